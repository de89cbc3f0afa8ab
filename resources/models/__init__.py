"""Model weights: where each checkpoint is found (or, tiny profile, built)."""
