"""`python -m marketnews` runs the command line."""

import sys

from marketnews.cli import main

sys.exit(main())
