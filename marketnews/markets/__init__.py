"""Market references, quotes and snapshots; the Polymarket provider lives beside them."""

from marketnews.markets.model import Outcome, Quote, Snapshot
from marketnews.markets.refs import MarketRef, parse_ref

# Polymarket's public APIs: the defaults of site.yaml's gamma_url and clob_url.
GAMMA_URL = "https://gamma-api.polymarket.com"
CLOB_URL = "https://clob.polymarket.com"

__all__ = ["CLOB_URL", "GAMMA_URL", "MarketRef", "Outcome", "Quote", "Snapshot", "parse_ref"]
