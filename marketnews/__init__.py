"""marketnews: a static site generator for market-linked news. No I/O on import."""

__version__ = "0.1.0"
