"""The review app's routes: plain functions of the request; the app's state holds its config."""
