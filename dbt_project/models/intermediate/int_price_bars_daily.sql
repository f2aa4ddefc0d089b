{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['coin_id', 'source', 'bar_start'],
) }}
-- Daily OHLC bars (UTC days) per coin and source, rolled up from the hourly bars; the
-- consensus is again the mean of the sources' daily bar values.
{%- set since = incremental_since('bar_start', 'day') %}

with per_source as (
    select
        coin_id,
        source,
        date_trunc('day', bar_start) as bar_start,
        arg_min(open, bar_start) as open,
        max(high) as high,
        min(low) as low,
        arg_max(close, bar_start) as close,
        arg_max(volume_24h_usd, bar_start) as volume_24h_usd,
        arg_max(market_cap_usd, bar_start) as market_cap_usd,
        arg_max(market_cap_rank, bar_start) as market_cap_rank,
        arg_max(ath_usd, bar_start) as ath_usd,
        cast(sum(ticks) as integer) as ticks,
        1 as sources
    from {{ ref('int_price_bars_hourly') }}
    where source <> 'consensus' and {{ since_filter('bar_start', since) }}
    group by all
),

consensus as (
    {{ consensus_bars('per_source') }}
)

select * from per_source
union all
select * from consensus
