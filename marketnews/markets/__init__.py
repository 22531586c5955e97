"""Market references, quotes and snapshots; the Polymarket provider lives beside them."""

from marketnews.markets.model import Outcome, Quote, Snapshot
from marketnews.markets.refs import MarketRef, parse_ref

__all__ = ["MarketRef", "Outcome", "Quote", "Snapshot", "parse_ref"]
