{#- The cross-source consensus of per-source OHLC bars (source = 'consensus'): the mean of
    the sources' bar values, the best rank, the highest ATH, every tick, and how many
    sources agreed. `per_source` names a CTE with the bar columns and `ticks`. -#}
{% macro consensus_bars(per_source) -%}
    select
        coin_id,
        'consensus' as source,
        bar_start,
        avg(open) as open,
        avg(high) as high,
        avg(low) as low,
        avg(close) as close,
        avg(volume_24h_usd) as volume_24h_usd,
        avg(market_cap_usd) as market_cap_usd,
        min(market_cap_rank) as market_cap_rank,
        max(ath_usd) as ath_usd,
        cast(sum(ticks) as integer) as ticks,
        count(*) as sources
    from {{ per_source }}
    group by all
{%- endmacro %}
