-- Where a price feed was frozen: it repeated the same price and 24 h volume for
-- `frozen_feed_hours` or longer while still polled. That is a stale source, not a calm
-- market (a live coin's 24 h volume moves with every trade). One row per frozen span; the
-- check price_feeds_not_frozen reports them, and the anomaly rules leave these minutes out.
with ticks as (
    select
        coin_id,
        source,
        event_time,
        price_usd,
        volume_24h_usd,
        case
            when
                price_usd = lag(price_usd) over by_series
                and (volume_24h_usd is not distinct from lag(volume_24h_usd) over by_series)
                then 0
            else 1
        end as changed
    from {{ ref('stg_price_ticks') }}
    window by_series as (partition by coin_id, source order by event_time)
),

spans as (
    select
        *,
        {{ run_number('changed', 'coin_id, source', 'event_time') }} as span_number
    from ticks
)

select
    coin_id,
    source,
    min(event_time) as frozen_from,
    max(event_time) as frozen_until,
    count(*) as ticks,
    any_value(price_usd) as price_usd
from spans
group by coin_id, source, span_number
having
    count(*) >= 3
    and max(event_time) - min(event_time) >= interval '{{ var("frozen_feed_hours") }} hours'
