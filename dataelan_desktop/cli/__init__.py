"""The `dataelan` command: no arguments starts the GUI; subcommands work headless."""
