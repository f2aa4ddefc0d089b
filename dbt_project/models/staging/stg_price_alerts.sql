-- Alerts the streaming jobs raised in real time, typed.
select
    event_id,
    coin_id,
    source,
    alert_type,
    severity,
    {{ utc_timestamp("window_start") }} as window_start,
    {{ utc_timestamp("window_end") }} as window_end,
    cast(observed_value as double) as observed_value,
    cast(threshold as double) as threshold,
    explanation,
    {{ utc_timestamp("event_time") }} as event_time,
    cast("date" as date) as lake_date
from {{ lake_table('price_alerts') }}
