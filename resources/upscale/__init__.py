"""Upscaling and the final cut: Real-ESRGAN through spandrel, H.264 encoding."""
