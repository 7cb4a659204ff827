"""Local GGUF models: the model manager, and opening a file to chat with."""
