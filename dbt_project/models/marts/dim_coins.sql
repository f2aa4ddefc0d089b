-- Every coin seen in the price ticks: latest symbol, name and rank, first and last tick,
-- and the sources that report it.
select
    coin_id,
    arg_max(symbol, event_time) as symbol,
    arg_max(name, event_time) as name,
    arg_max(market_cap_rank, event_time) filter (where market_cap_rank is not null)
        as market_cap_rank,
    min(event_time) as first_seen,
    max(event_time) as last_seen,
    list(distinct source order by source) as sources
from {{ ref('stg_price_ticks') }}
group by coin_id
