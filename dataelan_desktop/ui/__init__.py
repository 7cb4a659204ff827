"""Qt widgets and windows only: thin views that call core services and render."""
