"""Is a price body really quoted in USD? Its stablecoins say.

Nothing in a CoinGecko coins/markets body names its currency, and a CoinMarketCap body keyed
`quote.USD` is only as right as whoever filled it: a body asked for (or recorded) in EUR
looks exactly like one in USD. USD stablecoins are the witnesses: they trade at 1 USD.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptoviz_assets.collectors.base import Event, PayloadError, Rejection

# USD-pegged stablecoins, by symbol. Only USD ones: a EUR stablecoin sits at 1 in EUR bodies.
USD_STABLECOINS = frozenset(
    {"USDT", "USDC", "DAI", "USDS", "BUSD", "TUSD", "USDP", "FDUSD", "PYUSD", "GUSD"}
)
TOLERANCE = 0.03  # stablecoins stay within ~0.5% of 1 USD; EUR, GBP, CHF, JPY... are further


def wrong_currency(prices: Iterable[tuple[str, float | None]]) -> str | None:
    """Why a body of (symbol, price) is not in USD, or None when it is (or cannot be told).

    The rule: when at least two USD stablecoins are in the body and even the one closest to
    1.0 is more than 3% away from it, the body is quoted in another currency. Why:
    - converting to another currency moves every stablecoin by the same factor (in the EUR
      recording of 2025-03-04, USDT, USDC and USDS all sit at 0.95);
    - a depeg moves one or a few: USDC fell to 0.87 in March 2023 (DAI, backed by it, to
      0.90) while USDT stayed at 1.00. One stablecoin still at 1.0 shows the body is in USD,
      which is why the closest one decides, not the median;
    - a single stablecoin cannot tell a depeg from a currency, so it gives no verdict;
    - a currency within 3% of the dollar (EUR at parity in 2022) cannot be seen by prices.
    """
    stable = [(s, p) for s, p in prices if s.upper() in USD_STABLECOINS and p is not None]
    if len(stable) < 2 or min(abs(price - 1.0) for _, price in stable) <= TOLERANCE:
        return None
    quoted = ", ".join(f"{symbol.upper()} {price:.4g}" for symbol, price in stable)
    return (
        f"wrong currency: the body's USD stablecoins are priced {quoted}; none is within "
        f"{TOLERANCE:.0%} of 1, so its prices are not in USD (another vs_currency or convert?)"
    )


def refuse_wrong_currency(items: list[Event | Rejection]) -> list[Event | Rejection]:
    """The parsed items of a price body, or PayloadError when the body is not in USD: every
    price in it is wrong, so none is published and the whole body goes to the DLQ."""
    events = (item.value for item in items if isinstance(item, Event))
    reason = wrong_currency((str(value["symbol"]), value["price_usd"]) for value in events)
    if reason is not None:
        raise PayloadError(reason)
    return items
