"""Prompt templates: the library window, the fill-in dialog, inserting into the composer."""
