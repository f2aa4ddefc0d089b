"""CoinMarketCap coin -> CoinGecko id, derived from the two sources' own id and symbol data.

Every price tick is keyed by the CoinGecko id, the key cross-source analytics join on.
CoinMarketCap names a coin by slug (`near-protocol`), CoinGecko by id (`near`). The map is
not written by hand: `data/coingecko_coins.csv` is CoinGecko's own catalogue (id, symbol,
name) as its recorded coins/markets bodies list it (provenance in data/README.md;
`python -m cryptoviz_assets.collectors.coin_ids` regenerates it), and a CoinMarketCap
listing is matched to it by symbol, confirmed by a word its name or slug shares with the
CoinGecko name or id. A coin that does not match exactly one CoinGecko coin is unmapped:
refused (DLQ, counted on the asset), never published under an id of its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections import defaultdict
from functools import cache
from importlib.resources import files
from pathlib import Path

from cryptoviz_assets.collectors.base import RefusedRecordError

CATALOGUE = "coingecko_coins.csv"
UNMAPPED = "unmapped_coin"
# Words too common in coin names to confirm that two names mean the same coin.
COMMON_WORDS = frozenset({"the", "coin", "token", "network", "protocol", "chain", "new"})


class UnmappedCoinError(RefusedRecordError):
    def __init__(self, message: str, slug: str) -> None:
        super().__init__(f"unmapped coin: {message}", UNMAPPED, slug)


def words(*texts: str) -> set[str]:
    """The distinctive words of names and ids: `Crypto.com Coin` -> {crypto, com}."""
    found = {w for text in texts for w in re.split(r"[^a-z0-9]+", text.lower())}
    return {w for w in found if len(w) > 1 and not w.isdigit() and w not in COMMON_WORDS}


@cache
def catalogue() -> dict[str, dict[str, set[str]]]:
    """symbol (lower case) -> CoinGecko id -> the words of its id and names."""
    text = files("cryptoviz_assets.collectors").joinpath("data", CATALOGUE).read_text()
    by_symbol: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for row in csv.DictReader(io.StringIO(text)):
        coin_words = by_symbol[row["symbol"].lower()].setdefault(row["coingecko_id"], set())
        coin_words |= words(row["coingecko_id"], row["name"])
    return dict(by_symbol)


def coingecko_id(symbol: str, name: str, slug: str) -> str:
    """The CoinGecko id of a CoinMarketCap coin; UnmappedCoinError when there is not one."""
    candidates = catalogue().get(symbol.lower(), {})
    if not candidates:
        raise UnmappedCoinError(
            f"no CoinGecko coin has the symbol {symbol.upper()} "
            f"(CoinMarketCap {slug}, {name!r}) in {CATALOGUE}",
            slug,
        )
    ours = words(name, slug)
    agreeing = sorted(coin for coin, theirs in candidates.items() if ours & theirs)
    if len(agreeing) == 1:
        return agreeing[0]
    why = "names nor ids agree" if not agreeing else "names do not single one out"
    raise UnmappedCoinError(
        f"CoinGecko's {symbol.upper()} is {', '.join(sorted(candidates))}, but their {why} "
        f"with CoinMarketCap {slug} ({name!r})",
        slug,
    )


def coingecko_id_of_asset(asset: str, subject: str) -> str:
    """The CoinGecko id of an exchange's asset ticker (Binance's BTC); UnmappedCoinError
    unless exactly one CoinGecko coin has that symbol (an exchange gives no name to confirm)."""
    candidates = sorted(catalogue().get(asset.lower(), {}))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UnmappedCoinError(f"no CoinGecko coin has the symbol {asset} in {CATALOGUE}", subject)
    raise UnmappedCoinError(
        f"CoinGecko has several coins with the symbol {asset} ({', '.join(candidates)}), and "
        f"{subject} names none of them",
        subject,
    )


def regenerate(fixtures: Path) -> str:
    """The catalogue CSV from every recorded CoinGecko coins/markets body under `fixtures`.

    Ids, symbols and names do not depend on the quote currency: the EUR body counts too."""
    rows = set()
    for path in sorted((fixtures / "coingecko").glob("coins_markets_*.json")):
        for coin in json.loads(path.read_bytes()):
            rows.add((coin["id"], coin["symbol"], coin["name"]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["coingecko_id", "symbol", "name"])
    writer.writerows(sorted(rows))
    return out.getvalue()


def main() -> None:
    """Rewrite data/coingecko_coins.csv from the shared fixtures (or the folder given)."""
    from cryptoviz_assets.settings import PROJECT_ROOT

    fixtures = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT.parent / "shared" / "fixtures"
    )
    target = Path(__file__).parent / "data" / CATALOGUE
    target.write_text(regenerate(fixtures))
    print(f"{target}: {len(target.read_text().splitlines()) - 1} rows from {fixtures}")


if __name__ == "__main__":
    main()
