"""Which coins an article mentions: names in any case, tickers in upper case, whole words.

Whole words only: the seed projects matched substrings, so "Ethernet" counted as Ether and
"solar" as SOL. Tickers must be upper case ("sol" is a word, "SOL" a coin).
"""

from __future__ import annotations

import re
from functools import lru_cache

# coin_id -> (names matched case-insensitively, tickers matched in upper case only).
COINS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "bitcoin": (("bitcoin",), ("BTC", "XBT")),
    "ethereum": (("ethereum", "ether"), ("ETH",)),
    "tether": (("tether",), ("USDT",)),
    "binancecoin": (("bnb", "binance coin"), ("BNB",)),
    "solana": (("solana",), ("SOL",)),
    "usd-coin": (("usd coin", "usdc"), ("USDC",)),
    "ripple": (("xrp", "ripple"), ("XRP",)),
    "dogecoin": (("dogecoin",), ("DOGE",)),
    "cardano": (("cardano",), ("ADA",)),
    "tron": (("tron",), ("TRX",)),
    "avalanche-2": (("avalanche",), ("AVAX",)),
    "shiba-inu": (("shiba inu",), ("SHIB",)),
    "chainlink": (("chainlink",), ("LINK",)),
    "polkadot": (("polkadot",), ("DOT",)),
    "the-open-network": (("toncoin",), ("TON",)),
    "litecoin": (("litecoin",), ("LTC",)),
    "polygon-ecosystem-token": (("polygon",), ("POL", "MATIC")),
    "stellar": (("stellar",), ("XLM",)),
}


@lru_cache(maxsize=1)
def _coin_patterns() -> list[tuple[str, re.Pattern[str], re.Pattern[str] | None]]:
    patterns = []
    for coin, (names, tickers) in COINS.items():
        name_re = re.compile(
            r"(?<![\w-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])", re.IGNORECASE
        )
        ticker_re = (
            re.compile(r"(?<![\w-])\$?(" + "|".join(re.escape(t) for t in tickers) + r")(?![\w-])")
            if tickers
            else None
        )
        patterns.append((coin, name_re, ticker_re))
    return patterns


def mentioned_coins(text: str) -> list[str]:
    """coin_ids named in `text` by name (any case) or ticker (upper case, optional `$`)."""
    text = text or ""
    return [
        coin
        for coin, name_re, ticker_re in _coin_patterns()
        if name_re.search(text) or (ticker_re is not None and ticker_re.search(text))
    ]
