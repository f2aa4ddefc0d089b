-- One row per coin, anomaly type, series and minute in which a rule fires; the input of the
-- episodes. The rules (thresholds in dbt_project.yml vars, nowhere else; the streams read
-- them from there too):
--   volume_spike:      an exchange pair's 1-minute quote volume against the previous
--                      `volume_window` minutes of the same pair (all of them present):
--                      z-score > threshold. Never an aggregator's rolling 24 h field.
--   price_spike:       a series' close-to-close move between consecutive minutes, or its
--                      in-minute range (high / low - 1), whichever is larger, above the
--                      threshold; on every series, exchange pairs and aggregator sources.
--                      observed_value keeps the sign of a close move.
--   source_divergence: the spread (max - min) / mid of the closes of one coin in the same
--                      minute, among the exchange pairs, and among the aggregators (an
--                      exchange's last trade and an aggregator's cross-venue average are
--                      different measures, compared each with its own kind).

with exchange as (
    select
        coin_id,
        series,
        minute_start,
        high,
        low,
        close,
        volume_quote
    from {{ ref('stg_exchange_bars_1m') }}
),

prices as (
    select
        coin_id,
        'exchange' as kind,
        series,
        minute_start,
        high,
        low,
        close
    from exchange
    union all
    select
        coin_id,
        'aggregator' as kind,
        source as series,
        minute_start,
        high,
        low,
        close
    from {{ ref('int_price_minutes') }} as minutes
    where not exists (  -- a stale feed's minutes are a fault of the source, not the market
        select 1
        from {{ ref('int_frozen_price_spans') }} as frozen
        where
            frozen.coin_id = minutes.coin_id
            and frozen.source = minutes.source
            and minutes.minute_start between date_trunc('minute', frozen.frozen_from)
            and frozen.frozen_until
    )
),

volume_signals as (
    select
        *,
        avg(volume_quote) over prior as volume_mean,
        stddev_samp(volume_quote) over prior as volume_stddev,
        count(volume_quote) over prior as volume_observations
    from exchange
    window prior as (
        partition by series order by minute_start
        range between interval '{{ var("volume_window") }} minutes' preceding
        and interval '1 minute' preceding
    )
),

volume_spikes as (
    select
        coin_id,
        'volume_spike' as alert_type,
        series,
        minute_start,
        (volume_quote - volume_mean) / volume_stddev as observed_value,
        format(
            '{:.0f} quote volume in the minute vs a mean of {:.0f} over the previous {:d}',
            volume_quote, volume_mean, volume_observations
        ) as detail
    from volume_signals
    where
        volume_observations = {{ var('volume_window') }}
        and volume_stddev > 0
        and (volume_quote - volume_mean) / volume_stddev > {{ var('volume_z_threshold') }}
),

moves as (
    select
        coin_id,
        series,
        minute_start,
        high,
        low,
        previous_close,
        close,
        case
            when previous_minute = minute_start - interval '1 minute' and previous_close > 0
                then (close / previous_close - 1) * 100
        end as close_move_pct,
        case when low > 0 then (high / low - 1) * 100 end as range_pct
    from (
        select
            *,
            lag(minute_start) over by_series as previous_minute,
            lag(close) over by_series as previous_close
        from prices
        window by_series as (partition by coin_id, kind, series order by minute_start)
    ) as lagged
),

price_spikes as (
    select
        coin_id,
        'price_spike' as alert_type,
        series,
        minute_start,
        case
            when abs(coalesce(close_move_pct, 0)) >= coalesce(range_pct, 0)
                then close_move_pct
            else range_pct
        end as observed_value,
        case
            when abs(coalesce(close_move_pct, 0)) >= coalesce(range_pct, 0)
                then format('close {:.6g} -> {:.6g}', previous_close, close)
            else format('range {:.6g} - {:.6g} within the minute', low, high)
        end as detail
    from moves
    where
        greatest(abs(coalesce(close_move_pct, 0)), coalesce(range_pct, 0))
        > {{ var('price_spike_pct') }}
),

spreads as (
    select
        coin_id,
        minute_start,
        (max(close) - min(close)) / ((max(close) + min(close)) / 2) * 100 as spread_pct,
        arg_max(series, { 'close': close, 'series': series }) as highest,
        max(close) as highest_close,
        arg_min(series, { 'close': close, 'series': series }) as lowest,
        min(close) as lowest_close
    from prices
    where close > 0
    group by coin_id, kind, minute_start
    having count(distinct series) >= 2
),

divergences as (
    select
        coin_id,
        'source_divergence' as alert_type,
        highest || ',' || lowest as series,
        minute_start,
        spread_pct as observed_value,
        format('{} {:.6g} vs {} {:.6g}', highest, highest_close, lowest, lowest_close) as detail
    from spreads
    where spread_pct > {{ var('divergence_pct') }}
)

select * from volume_spikes
union all
select * from price_spikes
union all
select * from divergences
