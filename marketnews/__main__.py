"""`python -m marketnews` runs the command line."""

from marketnews.cli import run

run()
