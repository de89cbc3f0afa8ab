"""Media files: video reading/writing, picture checks, contact sheets."""
