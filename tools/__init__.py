"""Developer tools that do not ship with the app."""
