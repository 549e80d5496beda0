"""Offline delta sync: one endpoint that keeps the app's cache of its world up to date."""
