"""The model tester window."""

from .window import TesterWindow

__all__ = ["TesterWindow"]
