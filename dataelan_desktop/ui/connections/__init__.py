"""Providers: the settings page, and first-run set-up with a local server found running."""
