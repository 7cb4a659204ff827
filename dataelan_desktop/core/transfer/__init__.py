"""Export conversations as Markdown or JSON; import the app's JSON and ChatGPT data exports."""

from .export import export_conversation, export_project
from .importers import ImportFormatError, ImportResult, import_file, read_import

__all__ = [
    "ImportFormatError",
    "ImportResult",
    "export_conversation",
    "export_project",
    "import_file",
    "read_import",
]
