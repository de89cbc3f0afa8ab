"""The character-video code location: briefs in, consistent-character 1080p videos out."""
