"""Run-time plumbing: interruption checks, the Spot monitor."""
