#!/usr/bin/env python3
"""Build the site: `python build.py [options]` is `marketnews build [options]`, and
`python build.py COMMAND ...` runs any other command (serve, check, new, snapshot)."""

from marketnews.cli import run

if __name__ == "__main__":
    run(default_help="build")
