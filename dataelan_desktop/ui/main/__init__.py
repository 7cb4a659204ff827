"""The main window: the shell that lays out the features and holds the menus."""
