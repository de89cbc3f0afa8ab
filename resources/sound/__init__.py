"""Sound: the voice engine, the master mix and loudness, subtitles."""
