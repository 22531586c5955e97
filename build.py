#!/usr/bin/env python3
"""Build the site: `python build.py [options]` is `marketnews build [options]`, and
`python build.py COMMAND ...` runs any other command (serve, check, new, snapshot)."""

import sys

from marketnews.cli import main

if __name__ == "__main__":
    sys.exit(main(default_help="build"))
