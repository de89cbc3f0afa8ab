"""Tiny random-weight stand-ins for the registry's models: real diffusers classes, small configs."""
