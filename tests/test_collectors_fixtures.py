"""Every recorded payload in ../shared/fixtures parses into sane events or is refused by name.

The walk is over the files found, not a list: a recording added later is tested too. Each
folder is read by the collector of that source; what a collector must refuse (a body quoted
in another currency, an endpoint it does not read) is listed below with the reason the
refusal has to name. Expected counts come from the fixtures' own README (its records column).
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from cryptoviz_assets.collectors.base import Collector, Event, PayloadError, Rejection
from cryptoviz_assets.collectors.binance import BinanceKlinesCollector
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.coinmarketcap import CoinMarketCapCollector
from cryptoviz_assets.collectors.fear_greed import FearGreedCollector
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.collectors.news import NewsCollector
from cryptoviz_assets.contract.events import validation_error
from cryptoviz_assets.settings import Settings
from tests.conftest import SHARED_FIXTURES
from tests.test_collectors_parsing import INGEST
from tests.test_collectors_parsing import parse as parse_body

# Fixture folder -> the collector that reads that source.
ROUTES: dict[str, type[Collector]] = {
    "coingecko": CoinGeckoCollector,
    "coinmarketcap": CoinMarketCapCollector,
    "alternative_me": FearGreedCollector,
    "news_rss": NewsCollector,
    "binance": BinanceKlinesCollector,
}
# Folders of sources no collector reads yet: skipped, with this reason, never silently.
NO_COLLECTOR_YET: dict[str, str] = {}
# File name pattern -> what the collector's refusal must say.
REFUSALS = {
    "coins_markets_EUR_*.json": "wrong currency",  # USDT at 0.949: quoted in EUR, not USD
    "market_chart_*.json": "market_chart",  # an endpoint the CoinGecko collector does not call
    # Daily bars: the collector asks for, and kline.v1 carries, 1-minute bars only (the
    # same rows relabelled as minutes parse: test_collectors_binance.py).
    "klines_*_1d_*.json": "1d klines where interval=1m was asked",
}


def parse(collector: Collector, source: str, path: Path) -> list[Event | Rejection]:
    """A recorded body as the answer to the request that collector sends: klines rows do not
    name their pair, the request does (klines_<SYMBOL>_... in the file name)."""
    if source != "binance":
        return parse_body(collector, source, path.read_bytes())
    params = {"symbol": path.name.split("_")[1], "interval": "1m"}
    request = Request(source, "http://x", params=params)
    response = Response(request, 200, "application/json", path.read_bytes(), 1.0, 1, False)
    return list(collector.parse(response, INGEST))


def fixture_files() -> list[Any]:
    if not SHARED_FIXTURES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared is absent"))]
    return [
        pytest.param(path, id=str(path.relative_to(SHARED_FIXTURES)))
        for path in sorted(SHARED_FIXTURES.rglob("*"))
        if path.is_file() and path.name != "README.md"
    ]


def readme_counts() -> dict[str, int]:
    """file name -> records, from the fixtures README table (rows with a plain count)."""
    counts = {}
    for line in (SHARED_FIXTURES / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and re.fullmatch(r"[\d,]+", cells[3]):
            counts[Path(cells[0]).name] = int(cells[3].replace(",", ""))
    return counts


def refusal_for(name: str) -> str | None:
    return next((why for pattern, why in REFUSALS.items() if fnmatch.fnmatch(name, pattern)), None)


def finite_everywhere(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_everywhere(v) for v in value)
    return True


def assert_sane(event: Event, record_type: str) -> None:
    value = event.value
    assert validation_error(record_type, value) is None, value
    assert finite_everywhere(value), value
    json.dumps(value, allow_nan=False)  # strict JSON, as every consumer reads it
    if record_type == "price_tick":
        assert value["price_usd"] > 0
        assert value["coin_id"] == event.key
        assert value["coin_id"].strip()
        assert value["coin_id"].lower() != "none"
        assert value["symbol"].strip()
        assert value["symbol"] != "NONE"
    elif record_type == "market_sentiment":
        assert 0 <= value["value"] <= 100
        assert value["classification"]
    else:
        assert value["title"]
        assert value["guid"]


@pytest.mark.parametrize("path", fixture_files())
def test_every_shared_fixture_parses_or_is_refused_by_name(path: Path) -> None:
    folder = path.parent.name
    if folder in NO_COLLECTOR_YET:
        pytest.skip(f"{path.name}: {NO_COLLECTOR_YET[folder]}")
    assert folder in ROUTES, f"no collector is routed for fixture folder {folder!r}"
    collector = ROUTES[folder](Settings())
    source = path.name.split("_")[0] if folder == "news_rss" else folder
    expected_refusal = refusal_for(path.name)
    if expected_refusal is not None:
        with pytest.raises(PayloadError, match=expected_refusal):
            parse(collector, source, path)
        return
    items = parse(collector, source, path)
    rejected = [item.reason for item in items if isinstance(item, Rejection)]
    assert rejected == []
    events = [item for item in items if isinstance(item, Event)]
    assert len(events) == readme_counts().get(path.name, len(events)) > 0
    for event in events:
        assert_sane(event, collector.record_type)
    assert len({event.value["event_id"] for event in events}) == len(events)


def test_the_special_cases_are_still_there() -> None:
    """The refusals and skips above match real files, so none of them is stale."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared is absent")
    names = [path.name for path in SHARED_FIXTURES.rglob("*") if path.is_file()]
    for pattern in REFUSALS:
        assert fnmatch.filter(names, pattern), pattern
    for folder in NO_COLLECTOR_YET:
        assert any((SHARED_FIXTURES / folder).iterdir()), folder
    assert "fng_limit0_data_array_2018-02-01_to_2026-06-06.json" in names  # the bare array
    assert readme_counts()["fng_limit0_data_array_2018-02-01_to_2026-06-06.json"] == 3044
