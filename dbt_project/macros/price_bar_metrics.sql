{#- Returns, moving averages, rolling volatility, ATH distance and rank change over the
    bars of `bars_model` (one bar per `unit`). Windows are RANGE windows over bar_start, so
    a missing bar shortens the window instead of silently reaching further back; a measure
    is null until its window is complete. Returns are null when the previous bar is not the
    immediately preceding period. -#}
{% macro price_bar_metrics(bars_model, unit, volatility_periods, periods_per_year, volatility_name) -%}
{%- set since = incremental_since('bar_start', unit) -%}
{%- set context = (volatility_periods + 1) if volatility_periods + 1 > 30 else 30 -%}

with bars as (
    select * from {{ ref(bars_model) }}
    where {{ since_filter('bar_start', since, minus=context ~ ' ' ~ unit ~ 's') }}
),

lagged as (
    select
        *,
        lag(bar_start) over by_coin as previous_bar_start,
        lag(close) over by_coin as previous_close,
        lag(market_cap_rank) over by_coin as previous_rank
    from bars
    window by_coin as (partition by coin_id, source order by bar_start)
),

returns as (
    select
        *,
        previous_bar_start = bar_start - interval '1 {{ unit }}' as follows_previous,
        case when follows_previous then close / previous_close - 1 end as simple_return,
        case when follows_previous then ln(close / previous_close) end as log_return
    from lagged
),

metrics as (
    select
        coin_id,
        source,
        bar_start,
        bar_start + interval '1 {{ unit }}' as bar_end,
        open,
        high,
        low,
        close,
        volume_24h_usd,
        market_cap_usd,
        market_cap_rank,
        ath_usd,
        ticks,
        sources,
        simple_return,
        log_return,
        case when count(close) over ma_7 = 7 then avg(close) over ma_7 end as ma_7,
        case when count(close) over ma_30 = 30 then avg(close) over ma_30 end as ma_30,
        case when count(log_return) over vol = {{ volatility_periods }}
            then stddev_samp(log_return) over vol end as {{ volatility_name }},
        {{ volatility_name }} * sqrt({{ periods_per_year }}) as {{ volatility_name }}_annualised,
        case when ath_usd > 0 then (close / ath_usd - 1) * 100 end as ath_distance_pct,
        case when follows_previous then previous_rank - market_cap_rank end as rank_change
    from returns
    window
        ma_7 as (partition by coin_id, source order by bar_start
            range between interval '6 {{ unit }}s' preceding and current row),
        ma_30 as (partition by coin_id, source order by bar_start
            range between interval '29 {{ unit }}s' preceding and current row),
        vol as (partition by coin_id, source order by bar_start
            range between interval '{{ volatility_periods - 1 }} {{ unit }}s' preceding and current row)
)

select * from metrics
where {{ since_filter('bar_start', since) }}
{%- endmacro %}
