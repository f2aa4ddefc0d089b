"""What the marts look like to a person: row counts, markdown previews and PNG charts.

The Dagster UI renders markdown metadata, including images given as data URIs, so a chart
embedded that way is visible on the asset's page without any other service. Everything
here reads the published snapshot read-only (never the file dbt is building) and degrades
to a "no data yet" line when a mart is empty or missing: the report must never fail a run
because the demo has only just started. matplotlib is imported lazily (Agg backend), so
the code location loads without it.
"""

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from cryptoviz_assets.analytics.warehouse import connect_read_only, row_counts

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 80  # ~720 px wide: readable in the UI's metadata panel, ~50-100 KB per chart
PLOTTED_COINS = 3
CHART_TITLES = {
    "price": "Price, moving averages and anomalies",
    "sentiment": "News sentiment against price",
    "fear_greed": "Fear & Greed index",
}
MINUTE_SERIES_HOURS = 6  # a young warehouse: the last hours of minutes, MAs over minutes
HOURLY_SERIES_DAYS = 14  # an established one: two weeks of hourly consensus bars
MIN_HOURLY_BARS = 48  # below this, hourly bars make no picture; use minutes instead
SENTIMENT_DAYS = 60
FEAR_GREED_DAYS = 365
ALERT_STYLE = {  # marker, colour per anomaly type
    "price_spike": ("^", "#d62728"),
    "volume_spike": ("s", "#9467bd"),
    "source_divergence": ("D", "#ff7f0e"),
}
FEAR_GREED_BANDS = (  # alternative.me's classification, bottom to top
    (0, 25, "Extreme Fear", "#d73027"),
    (25, 46, "Fear", "#fc8d59"),
    (46, 55, "Neutral", "#ffffbf"),
    (55, 76, "Greed", "#91cf60"),
    (76, 100, "Extreme Greed", "#1a9850"),
)

# The rows a person looks at first in each key mart (title, SQL).
PREVIEWS: dict[str, tuple[str, str]] = {
    "fct_anomaly_episodes": (
        "Latest anomaly episodes",
        "select coin_id, alert_type, severity, started_at, ended_at, duration_minutes, "
        "explanation from marts.fct_anomaly_episodes "
        "order by started_at desc, coin_id, alert_type limit 10",
    ),
    "fct_price_bars_hourly": (
        "Latest hourly consensus bar per coin",
        "select b.coin_id, b.bar_start, b.close, b.simple_return, b.ma_7, b.volatility_24h, "
        "b.market_cap_rank from marts.fct_price_bars_hourly as b where b.source = 'consensus' "
        "qualify row_number() over (partition by b.coin_id order by b.bar_start desc) = 1 "
        "order by b.market_cap_rank nulls last, b.coin_id limit 10",
    ),
    "fct_sentiment_daily_coin": (
        "Latest daily news sentiment",
        "select day, coin_id, articles, mean_score, share_positive, share_negative "
        "from marts.fct_sentiment_daily_coin order by day desc, articles desc, coin_id limit 10",
    ),
    "fct_fear_greed_daily": (
        "Fear & Greed, last 7 days",
        "select index_date, value, classification, change, mean_7d "
        "from marts.fct_fear_greed_daily order by index_date desc limit 7",
    ),
    "fct_news_articles": (
        "Latest news",
        "select published_at, source, title, sentiment_label, coins "
        "from marts.fct_news_articles order by published_at desc, event_id limit 5",
    ),
}


@dataclass(frozen=True)
class Chart:
    """A rendered chart (PNG bytes), or why there is none yet."""

    title: str
    png: bytes | None
    note: str = ""

    def markdown(self) -> str:
        if self.png is None:
            return f"**{self.title}**\n\n_No data yet: {self.note}_"
        encoded = base64.b64encode(self.png).decode("ascii")
        caption = f"\n\n{self.note}" if self.note else ""
        return f"**{self.title}**\n\n![{self.title}](data:image/png;base64,{encoded}){caption}"


@dataclass(frozen=True)
class Report:
    """Everything the market report shows, computed from one snapshot."""

    row_counts: dict[str, int]
    previews: dict[str, str]
    charts: dict[str, Chart] = field(default_factory=dict)


# --- reading -----------------------------------------------------------------------------
def frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """A query's rows, or an empty frame when a table the query reads does not exist yet."""
    try:
        return con.execute(sql, list(params)).df()
    except duckdb.CatalogException:
        return pd.DataFrame()


def row_counts_markdown(counts: dict[str, int]) -> str:
    if not counts:
        return "_No data yet: no marts have been published._"
    return markdown_table(["mart", "rows"], [(name, n) for name, n in counts.items()])


# --- markdown ----------------------------------------------------------------------------
def cell(value: Any) -> str:
    """One table cell: short numbers, minute-precision times, no pipes or line breaks."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "..."


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (what the Dagster UI renders)."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def preview(con: duckdb.DuckDBPyConnection, table: str) -> str:
    title, sql = PREVIEWS[table]
    try:
        cursor = con.execute(sql)
        rows = cursor.fetchall()
    except duckdb.CatalogException:
        rows = []
    if not rows:
        return f"**{title}**\n\n_No data yet: {table} is empty._"
    columns = [d[0] for d in cursor.description or []]
    return f"**{title}**\n\n" + markdown_table(columns, rows)


# --- charts ------------------------------------------------------------------------------
def _figure(rows: int, height: float = 2.6) -> "tuple[Figure, list[Axes]]":
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 0.6 + height * rows), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    return fig, list(axes)


def _dates(ax: "Axes") -> None:
    """Compact date ticks on every panel (panels do not share their time axis)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _png(fig: "Figure") -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def plotted_coins(con: duckdb.DuckDBPyConnection, limit: int = PLOTTED_COINS) -> list[str]:
    """The market leaders by rank, and the coin with the most anomalies if not among them."""
    leaders = frame(
        con,
        "select coin_id from marts.dim_coins order by market_cap_rank nulls last, coin_id limit ?",
        [limit],
    )
    coins = [str(c) for c in leaders.get("coin_id", [])]
    alerted = frame(
        con,
        "select coin_id from marts.fct_anomaly_episodes group by coin_id "
        "order by count(*) desc, coin_id limit 1",
    )
    for coin in alerted.get("coin_id", []):
        if coin not in coins:
            coins = [*coins[: limit - 1], str(coin)]
    return coins


def price_series(con: duckdb.DuckDBPyConnection, coin: str) -> tuple[pd.DataFrame, str]:
    """(time, price, ma_7, ma_30) for one coin and the unit of its periods.

    A warehouse with days of data: hourly consensus bars with the mart's own 7- and 30-hour
    averages. A young one (the demo's first minutes): the minute mart's mean of the sources'
    closes with its 7- and 30-minute averages, so the picture has a shape from the start.
    """
    hourly = frame(
        con,
        "select bar_start as time, close as price, ma_7, ma_30 from marts.fct_price_bars_hourly "
        "where coin_id = ? and source = 'consensus' "
        "and bar_start >= (select max(bar_start) from marts.fct_price_bars_hourly "
        f"    where coin_id = ?) - interval {HOURLY_SERIES_DAYS} days order by bar_start",
        [coin, coin],
    )
    if len(hourly) >= MIN_HOURLY_BARS:
        return hourly, "hour"
    minutes = frame(
        con,
        "select minute_start as time, price, ma_7, ma_30 from marts.fct_price_minutes "
        "where coin_id = ? and minute_start >= (select max(minute_start) "
        "    from marts.fct_price_minutes where coin_id = ?) "
        f"    - interval {MINUTE_SERIES_HOURS} hours order by minute_start",
        [coin, coin],
    )
    return minutes, "minute"


def price_chart(con: duckdb.DuckDBPyConnection) -> Chart:
    """Price with 7- and 30-period moving averages and anomaly markers, a panel per coin."""
    title = CHART_TITLES["price"]
    series = [(coin, *price_series(con, coin)) for coin in plotted_coins(con)]
    series = [s for s in series if not s[1].empty]
    if not series:
        return Chart(title, None, "no prices in the marts yet.")
    anomalies = frame(  # one marker per episode, at its peak
        con,
        "select coin_id, alert_type, peak_at from marts.fct_anomaly_episodes order by peak_at",
    )
    fig, axes = _figure(len(series))
    for ax, (coin, data, unit) in zip(axes, series, strict=True):
        times = pd.to_datetime(data["time"])
        ax.plot(times, data["price"], color="#1f77b4", linewidth=1.2, label="price")
        ax.plot(times, data["ma_7"], color="#2ca02c", linewidth=1, label=f"MA 7 {unit}s")
        ax.plot(times, data["ma_30"], color="#7f7f7f", linewidth=1, label=f"MA 30 {unit}s")
        if not anomalies.empty:
            mine = anomalies[anomalies["coin_id"] == coin].copy()
            mine["time"] = pd.to_datetime(mine["peak_at"])
            mine = mine[(mine["time"] >= times.min()) & (mine["time"] <= times.max())]
            if not mine.empty:
                located = pd.merge_asof(
                    mine.sort_values("time"),
                    pd.DataFrame({"time": times, "price": data["price"]}).sort_values("time"),
                    on="time",
                    direction="nearest",
                )
                for alert_type, group in located.groupby("alert_type"):
                    marker, colour = ALERT_STYLE.get(str(alert_type), ("o", "black"))
                    ax.scatter(
                        group["time"],
                        group["price"],
                        marker=marker,
                        color=colour,
                        s=60,
                        zorder=3,
                        label=str(alert_type).replace("_", " "),
                    )
        ax.set_title(f"{coin} (USD, per {unit})", loc="left", fontsize=10)
        _dates(ax)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, ncols=3)
    units = {unit for _, _, unit in series}
    note = (
        "Minute-level series (the warehouse holds only a few hours of prices so far)."
        if units == {"minute"}
        else ""
    )
    return Chart(title, _png(fig), note)


def sentiment_chart(con: duckdb.DuckDBPyConnection) -> Chart:
    """Daily mean news sentiment (bars) against the daily consensus close (line)."""
    title = CHART_TITLES["sentiment"]
    coins = frame(
        con,
        "select coin_id from marts.fct_sentiment_daily_coin where coin_id in "
        "(select coin_id from marts.fct_price_bars_daily) "
        "group by coin_id order by sum(articles) desc, coin_id limit ?",
        [PLOTTED_COINS],
    )
    if coins.empty:
        return Chart(title, None, "no news sentiment for a priced coin yet.")
    fig, axes = _figure(len(coins))
    for ax, coin in zip(axes, coins["coin_id"], strict=True):
        sentiment = frame(
            con,
            "select day, mean_score, articles from marts.fct_sentiment_daily_coin "
            "where coin_id = ? and day >= (select max(day) from marts.fct_sentiment_daily_coin "
            f"    where coin_id = ?) - interval {SENTIMENT_DAYS} days order by day",
            [coin, coin],
        )
        prices = frame(
            con,
            "select cast(bar_start as date) as day, close from marts.fct_price_bars_daily "
            "where coin_id = ? and source = 'consensus' and bar_start >= ? order by bar_start",
            [coin, sentiment["day"].min()],
        )
        days = pd.to_datetime(sentiment["day"])
        colours = ["#1a9850" if s >= 0 else "#d73027" for s in sentiment["mean_score"]]
        ax.bar(days, sentiment["mean_score"], color=colours, width=0.8, label="mean sentiment")
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_ylim(-1, 1)
        ax.set_ylabel("sentiment")
        ax.set_title(f"{coin}: daily news sentiment vs close", loc="left", fontsize=10)
        twin = ax.twinx()
        twin.plot(pd.to_datetime(prices["day"]), prices["close"], color="#1f77b4", marker="o", ms=3)
        twin.set_ylabel("close (USD)", color="#1f77b4")
        _dates(ax)
        ax.grid(alpha=0.3)
    return Chart(title, _png(fig), "Bars: mean article sentiment per UTC day. Line: close.")


def fear_greed_chart(con: duckdb.DuckDBPyConnection) -> Chart:
    """The Fear & Greed index over the last year, over its classification bands."""
    title = CHART_TITLES["fear_greed"]
    data = frame(
        con,
        "select index_date, value, mean_7d from marts.fct_fear_greed_daily "
        "where index_date >= (select max(index_date) from marts.fct_fear_greed_daily) "
        f"    - interval {FEAR_GREED_DAYS} days order by index_date",
    )
    if data.empty:
        return Chart(title, None, "fct_fear_greed_daily is empty.")
    fig, (ax,) = _figure(1, height=3.2)
    for low, high, name, colour in FEAR_GREED_BANDS:
        ax.axhspan(low, high, color=colour, alpha=0.25, linewidth=0)
        ax.text(1.005, (low + high) / 2, name, transform=ax.get_yaxis_transform(), fontsize=7,
                va="center")  # fmt: skip
    days = pd.to_datetime(data["index_date"])
    ax.plot(days, data["value"], color="#333333", linewidth=1, marker=".", ms=3, label="index")
    ax.plot(days, data["mean_7d"], color="#1f77b4", linewidth=1.5, label="7-day mean")
    ax.set_ylim(0, 100)
    ax.set_title("alternative.me Fear & Greed (0 = extreme fear)", loc="left", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    _dates(ax)
    return Chart(title, _png(fig))


# --- the report --------------------------------------------------------------------------
def build_report(warehouse_path: Path) -> Report:
    """Counts, previews and charts of the published snapshot (all empty when unpublished)."""
    if not warehouse_path.exists():
        empty = {name: f"_No data yet: {name} has not been published._" for name in PREVIEWS}
        nothing = "the warehouse has not been published."
        charts = {name: Chart(title, None, nothing) for name, title in CHART_TITLES.items()}
        return Report({}, empty, charts)
    with connect_read_only(warehouse_path) as con:
        return Report(
            row_counts=row_counts(con),
            previews={name: preview(con, name) for name in PREVIEWS},
            charts={
                "price": price_chart(con),
                "sentiment": sentiment_chart(con),
                "fear_greed": fear_greed_chart(con),
            },
        )
