"""Video rendering: diffusers video pipelines, one worker per GPU."""
