"""Local GGUF models: header inspection, the models folder, the catalog and downloads."""
