"""Sync's shared, pure-Python part: the clock, the declared schema, operations, merge and sealing.

Used by the sync server and by the app's client alike; it imports neither FastAPI nor Qt.
"""
