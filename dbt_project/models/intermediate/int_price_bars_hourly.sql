{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['coin_id', 'source', 'bar_start'],
) }}
-- Hourly OHLC bars per coin and source, aggregated from the ticks (the last value of the
-- hour for volume, market cap, rank and ATH), plus the cross-source consensus (source =
-- 'consensus': the mean of the sources' bar values). Rolling measures are added in
-- fct_price_bars_hourly.
{%- set since = incremental_since('bar_start', 'hour') %}

with per_source as (
    select
        coin_id,
        source,
        date_trunc('hour', event_time) as bar_start,
        arg_min(price_usd, event_time) as open,
        max(price_usd) as high,
        min(price_usd) as low,
        arg_max(price_usd, event_time) as close,
        arg_max(volume_24h_usd, event_time) as volume_24h_usd,
        arg_max(market_cap_usd, event_time) as market_cap_usd,
        arg_max(market_cap_rank, event_time) as market_cap_rank,
        arg_max(ath_usd, event_time) as ath_usd,
        cast(count(*) as integer) as ticks,
        1 as sources
    from {{ ref('stg_price_ticks') }}
    where price_usd > 0 and {{ lake_rows_since(since) }}
    group by all
),

consensus as (
    {{ consensus_bars('per_source') }}
)

select * from per_source
union all
select * from consensus
