"""Artifact storage: the local artifact root and its S3 mirror."""
