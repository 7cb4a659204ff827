"""Import and export, from the File menu."""
