-- The streaming job's 1-, 5- and 15-minute OHLC bars per coin and source, as Spark emitted
-- them: once per bar, final, when the watermark passed its end. The hourly and daily bar
-- marts aggregate the ticks themselves; these are the intraday bars queryable in SQL.
select
    bar_minutes,
    coin_id,
    source,
    symbol,
    window_start,
    window_end,
    open,
    high,
    low,
    close,
    volume_24h_usd,
    tick_count,
    first_event_time,
    last_event_time
from {{ ref('stg_price_bars') }}
