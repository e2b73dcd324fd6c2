"""`python -m greenlab ...` runs the `greenlab` command, for a Python whose scripts folder is not on PATH."""

import sys

from greenlab.cli import main

sys.exit(main())
