-- One row per coin, anomaly type and episode: flagged minutes of the same coin and type at
-- most `episode_gap_minutes` apart are one incident, however long it lasts and however many
-- series saw it. An episode keeps its id as it grows (md5 of type, coin and start), so a
-- rebuild updates it in place; ended_at stays empty while the data could still extend it.

{%- set gap = var('episode_gap_minutes') %}

with minutes as (
    -- the series that saw the same coin, type and minute are one observation
    select
        coin_id,
        alert_type,
        minute_start,
        arg_max(
            observed_value, { 'size': abs(observed_value), 'series': series }
        ) as observed_value,
        arg_max(detail, { 'size': abs(observed_value), 'series': series }) as detail,
        string_agg(distinct series, ',' order by series) as series
    from {{ ref('int_anomaly_minutes') }}
    group by all
),

starts as (
    select
        *,
        case
            when
                lag(minute_start) over by_type is null
                or minute_start - lag(minute_start) over by_type > interval '{{ gap }} minutes'
                then 1
            else 0
        end as starts_episode
    from minutes
    window by_type as (partition by coin_id, alert_type order by minute_start)
),

numbered as (
    select
        *,
        {{ run_number('starts_episode', 'coin_id, alert_type', 'minute_start') }} as episode_number
    from starts
),

latest as (
    -- the newest minute any series of the coin has data for: an episode whose last flagged
    -- minute is within the gap of it may still grow
    select
        coin_id,
        max(minute_start) as latest_minute
    from (
        select
            coin_id,
            minute_start
        from {{ ref('stg_exchange_bars_1m') }}
        union all
        select
            coin_id,
            minute_start
        from {{ ref('int_price_minutes') }}
    )
    group by coin_id
),

episodes as (
    select
        coin_id,
        alert_type,
        min(minute_start) as started_at,
        max(minute_start) + interval '1 minute' as last_flagged_end,
        count(*) as flagged_minutes,
        arg_max(observed_value, { 'size': abs(observed_value), 'at': minute_start }) as peak_value,
        arg_max(minute_start, { 'size': abs(observed_value), 'at': minute_start }) as peak_at,
        arg_max(detail, { 'size': abs(observed_value), 'at': minute_start }) as peak_detail,
        string_agg(distinct series, ',' order by series) as series_lists
    from numbered
    group by coin_id, alert_type, episode_number
)

select
    md5(
        e.alert_type || '|' || e.coin_id || '|' || cast(e.started_at as varchar)
    ) as episode_id,
    e.coin_id,
    e.alert_type,
    case
        when e.alert_type = 'volume_spike' and abs(e.peak_value) > {{ var('volume_z_critical') }}
            then 'critical'
        when
            e.alert_type = 'price_spike'
            and abs(e.peak_value) > {{ var('price_spike_critical_pct') }}
            then 'critical'
        when
            e.alert_type = 'source_divergence'
            and e.peak_value > {{ var('divergence_high_pct') }}
            then 'high'
        else 'warning'
    end as severity,
    e.started_at,
    case
        when e.last_flagged_end + interval '{{ gap }} minutes' > latest.latest_minute
            then null
        else e.last_flagged_end
    end as ended_at,
    e.last_flagged_end,
    datediff('minute', e.started_at, e.last_flagged_end) as duration_minutes,
    e.flagged_minutes,
    e.peak_value,
    e.peak_at,
    list_sort(list_distinct(string_split(e.series_lists, ','))) as sources,
    format(
        '{}: {} from {} for {} min, peak {:.2f} at {} ({})', e.coin_id,
        replace(e.alert_type, '_', ' '), strftime(e.started_at, '%Y-%m-%d %H:%M'),
        datediff('minute', e.started_at, e.last_flagged_end), e.peak_value,
        strftime(e.peak_at, '%H:%M'), e.peak_detail
    ) as explanation
from episodes as e
inner join latest on e.coin_id = latest.coin_id
