"""``python -m sentvec``: the same as the ``sentvec`` command."""

import sys

from sentvec.cli import main

if __name__ == "__main__":
    sys.exit(main())
