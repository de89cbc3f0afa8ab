"""Quotes before a run: exact FLOP counts on the meta device, and the quote built from them."""
