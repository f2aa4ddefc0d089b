{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['coin_id', 'source', 'minute_start'],
    on_schema_change='append_new_columns',
) }}
-- One row per coin, source and minute: the last price, its range and the 24 h volume of the
-- minute, the input of the minute-level anomaly detection. Deliberately narrow: every extra
-- arg_max over ~10 M minute groups costs about a second (hourly bars aggregate the ticks
-- directly).
-- An incremental run re-reads only the lake partitions from (latest minute - lookback) on.
{%- set since = incremental_since('minute_start') %}

select
    coin_id,
    source,
    date_trunc('minute', event_time) as minute_start,
    arg_max(price_usd, event_time) as close,
    max(price_usd) as high,
    min(price_usd) as low,
    arg_max(volume_24h_usd, event_time) as volume_24h_usd,
    count(*) as ticks
from {{ ref('stg_price_ticks') }}
where price_usd > 0 and {{ lake_rows_since(since) }}
group by all
