"""The bundle's entry script (PyInstaller runs it as ``__main__``; cli/main.py uses relative imports).

Helper processes (the network process, a model process per loaded GGUF model) are started with
multiprocessing's spawn context: in the bundle that runs this same executable again, and
``main()`` hands such a start to multiprocessing (``freeze_support``) before anything else.
"""

import sys

from dataelan_desktop.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
