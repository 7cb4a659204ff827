"""Reading the window's remembered settings (window.ini in the data folder) without trusting them.

The file is plain text a person can edit, copy between data folders or damage; a value of the wrong
kind (a geometry that is a word, minutes that are not a number) is passed over as if never saved,
so the window still opens instead of ending in a traceback.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings


def remembered_bytes(settings: QSettings, key: str) -> QByteArray | None:
    """A saved Qt state (geometry, splitter): only bytes are one; anything else was not saved by us."""
    value = settings.value(key)
    if isinstance(value, QByteArray):
        return value
    if isinstance(value, bytes | bytearray):
        return QByteArray(bytes(value))
    return None


def remembered_int(settings: QSettings, key: str, minimum: int, maximum: int) -> int | None:
    """A whole number within [minimum, maximum], or None when the saved value is not one."""
    value = settings.value(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if minimum <= number <= maximum else None
