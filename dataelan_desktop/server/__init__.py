"""The Dataelan sync server (FastAPI), installed with ``pip install 'dataelan-desktop[server]'``."""

SERVER_EXTRA_HINT = "the sync server needs its extra: pip install 'dataelan-desktop[server]'"
