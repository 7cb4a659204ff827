"""The conversation on show: its pane, the chat view, each message, the composer, Markdown."""
