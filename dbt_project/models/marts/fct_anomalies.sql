{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='alert_id',
    post_hook="{{ write_watermark(this.name, 'select max(minute_start) from ' ~ ref('int_price_minutes')) }}",
) }}
-- One row per alert: coin, type and window, whatever the number of sources that saw it
-- (alert_id = md5(type|coin|window_start), so reprocessing a window never repeats an alert).
--   volume_spike:      z-score of the 24 h volume against the prior `volume_window` minutes
--                      of the same coin and source (at least `volume_min_observations` of them)
--   price_spike:       close-to-close move between two consecutive minutes
--   source_divergence: |coingecko - coinmarketcap| / their mean within the same minute
-- Rows are sparse, so where to resume is kept as a watermark (see macros/incremental.sql).
{%- set since = read_watermark(this.name) %}
{%- set lookback = var('lookback_minutes') ~ ' minutes' %}
{%- set context = (var('lookback_minutes') + var('volume_window') + 1) ~ ' minutes' %}

with minutes as (
    select coin_id, source, minute_start, close, volume_24h_usd
    from {{ ref('int_price_minutes') }}
    where {{ since_filter('minute_start', since, minus=context) }}
),

signals as (
    select
        *,
        lag(minute_start) over by_series as previous_minute,
        lag(close) over by_series as previous_close,
        avg(volume_24h_usd) over prior as volume_mean,
        stddev_samp(volume_24h_usd) over prior as volume_stddev,
        count(volume_24h_usd) over prior as volume_observations
    from minutes
    window
        by_series as (partition by coin_id, source order by minute_start),
        prior as (partition by coin_id, source order by minute_start
            rows between {{ var('volume_window') }} preceding and 1 preceding)
),

volume_spikes as (
    select
        coin_id,
        'volume_spike' as alert_type,
        minute_start as window_start,
        minute_start + interval '1 minute' as window_end,
        source,
        (volume_24h_usd - volume_mean) / volume_stddev as observed_value,
        format('24 h volume {:.0f} USD vs a mean of {:.0f} over the previous {:d} minutes',
            volume_24h_usd, volume_mean, volume_observations) as detail
    from signals
    where volume_observations >= {{ var('volume_min_observations') }}
      and volume_stddev > 0
      and (volume_24h_usd - volume_mean) / volume_stddev > {{ var('volume_z_threshold') }}
),

price_spikes as (
    select
        coin_id,
        'price_spike' as alert_type,
        previous_minute as window_start,
        minute_start + interval '1 minute' as window_end,
        source,
        (close / previous_close - 1) * 100 as observed_value,
        format('{:.6g} -> {:.6g} USD', previous_close, close) as detail
    from signals
    where previous_minute = minute_start - interval '1 minute'
      and previous_close > 0
      and abs(close / previous_close - 1) * 100 > {{ var('price_spike_pct') }}
),

paired as (
    select
        gecko.coin_id,
        gecko.minute_start,
        gecko.close as coingecko_close,
        cmc.close as coinmarketcap_close,
        abs(gecko.close - cmc.close) / ((gecko.close + cmc.close) / 2) * 100 as divergence_pct
    from minutes as gecko
    inner join minutes as cmc
        on gecko.coin_id = cmc.coin_id
        and gecko.minute_start = cmc.minute_start
        and cmc.source = 'coinmarketcap'
    where gecko.source = 'coingecko'
),

divergences as (
    select
        coin_id,
        'source_divergence' as alert_type,
        minute_start as window_start,
        minute_start + interval '1 minute' as window_end,
        'coingecko,coinmarketcap' as source,
        divergence_pct as observed_value,
        format('coingecko {:.6g} vs coinmarketcap {:.6g} USD', coingecko_close, coinmarketcap_close)
            as detail
    from paired
    where divergence_pct > {{ var('divergence_pct') }}
),

detections as (
    select * from volume_spikes
    union all
    select * from price_spikes
    union all
    select * from divergences
),

-- One alert per coin, type and window: the most extreme source wins (CoinGecko on a tie,
-- so a rebuild picks the same one), all are listed.
alerts as (
    select
        coin_id,
        alert_type,
        window_start,
        max(window_end) as window_end,
        arg_max(observed_value, {'size': round(abs(observed_value), 9), 'primary': source = 'coingecko'})
            as observed_value,
        arg_max(detail, {'size': round(abs(observed_value), 9), 'primary': source = 'coingecko'})
            as detail,
        string_agg(distinct source, ',' order by source) as sources
    from detections
    where {{ since_filter('window_start', since, minus=lookback) }}
    group by all
),

graded as (
    select
        *,
        case alert_type
            when 'volume_spike' then
                case when observed_value > {{ var('volume_z_critical') }} then 'critical' else 'warning' end
            when 'price_spike' then
                case when abs(observed_value) > {{ var('price_spike_critical_pct') }} then 'critical' else 'warning' end
            else
                case when observed_value > {{ var('divergence_high_pct') }} then 'high' else 'warning' end
        end as severity
    from alerts
)

select
    md5(alert_type || '|' || coin_id || '|' || cast(window_start as varchar)) as alert_id,
    coin_id,
    alert_type,
    severity,
    window_start,
    window_end,
    observed_value,
    case
        when alert_type = 'volume_spike' and severity = 'critical' then {{ var('volume_z_critical') }}
        when alert_type = 'volume_spike' then {{ var('volume_z_threshold') }}
        when alert_type = 'price_spike' and severity = 'critical' then {{ var('price_spike_critical_pct') }}
        when alert_type = 'price_spike' then {{ var('price_spike_pct') }}
        when severity = 'high' then {{ var('divergence_high_pct') }}
        else {{ var('divergence_pct') }}
    end::double as threshold,
    sources,
    case alert_type
        when 'volume_spike' then format('{}: volume spike, z-score {:.2f} > {:g} ({}; {})',
            coin_id, observed_value, threshold, detail, sources)
        when 'price_spike' then format('{}: price {} {:.2f}% within one minute, more than {:g}% ({}; {})',
            coin_id, case when observed_value > 0 then 'rose' else 'fell' end,
            abs(observed_value), threshold, detail, sources)
        else format('{}: sources diverge by {:.2f}%, more than {:g}% ({})',
            coin_id, observed_value, threshold, detail)
    end as explanation
from graded
