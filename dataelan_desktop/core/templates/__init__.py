"""Prompt templates: ``{{variables}}`` with defaults, stored in SQLite, with a built-in library."""

from .render import RenderedPrompt, TemplateError, Variable, render_text, template_variables
from .store import TemplateStore, TemplateView

__all__ = [
    "RenderedPrompt",
    "TemplateError",
    "TemplateStore",
    "TemplateView",
    "Variable",
    "render_text",
    "template_variables",
]
