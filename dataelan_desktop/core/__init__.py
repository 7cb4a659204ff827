"""Everything that is not Qt: pure Python and asyncio, importable headless.

Rule: nothing under ``dataelan_desktop.core`` imports PySide6.
"""
