-- Exchange klines, typed, one row per pair and minute (a re-sent kline keeps its first
-- landing). series = '<source>:<pair>': the unit the anomaly rules compare.
select
    event_id,
    source,
    symbol,
    source || ':' || symbol as series,
    coin_id,
    base_asset,
    quote_asset,
    {{ utc_timestamp("open_time") }} as minute_start,
    cast(open as double) as open,
    cast(high as double) as high,
    cast(low as double) as low,
    cast(close as double) as close,
    cast(volume_base as double) as volume_base,
    cast(volume_quote as double) as volume_quote,
    cast(trade_count as bigint) as trade_count,
    {{ utc_timestamp("ingest_time") }} as ingest_time,
    cast(replayed as boolean) as replayed,
    cast("date" as date) as lake_date
from {{ lake_table('exchange_bars_1m') }}
qualify row_number() over (partition by source, symbol, open_time order by ingest_time) = 1
