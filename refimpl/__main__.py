"""``python -m refimpl`` runs the command line (see :mod:`refimpl.cli`)."""
import sys

from .cli import main

sys.exit(main())
