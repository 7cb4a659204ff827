"""The model tester: one prompt on several models at once, measured, compared and voted on."""
