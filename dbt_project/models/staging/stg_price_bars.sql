-- The streaming job's OHLC bars of 1, 5 and 15 minutes (bar_minutes), typed; kept for
-- comparison with the bars the marts compute from the ticks.
select
    cast(bar_minutes as integer) as bar_minutes,
    coin_id,
    source,
    {{ utc_timestamp("window_start") }} as window_start,
    {{ utc_timestamp("window_end") }} as window_end,
    cast(open as double) as open,
    cast(high as double) as high,
    cast(low as double) as low,
    cast(close as double) as close,
    cast(volume_24h_usd as double) as volume_24h_usd,
    symbol,
    cast(tick_count as bigint) as tick_count,
    {{ utc_timestamp("first_event_time") }} as first_event_time,
    {{ utc_timestamp("last_event_time") }} as last_event_time,
    cast("date" as date) as lake_date
from {{ lake_table('price_bars') }}
