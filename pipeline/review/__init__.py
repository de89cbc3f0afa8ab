"""The producers' review app: watch every shot, approve, re-roll one shot (pt-BR first)."""
