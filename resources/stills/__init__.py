"""Reference stills: SDXL generation."""
