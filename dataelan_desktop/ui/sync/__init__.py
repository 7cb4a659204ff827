"""Sync in the window: the controller (engine and background runner), the Settings page, the status bar indicator."""
