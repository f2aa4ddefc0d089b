-- The consensus close of an hourly bar is the mean of the sources' closes of that hour.
with sources as (
    select
        coin_id,
        bar_start,
        avg(close) as mean_close
    from {{ ref('fct_price_bars_hourly') }}
    where source <> 'consensus'
    group by all
)
select
    c.coin_id,
    c.bar_start,
    c.close,
    s.mean_close
from {{ ref('fct_price_bars_hourly') }} as c
inner join sources as s on c.coin_id = s.coin_id and c.bar_start = s.bar_start
where c.source = 'consensus' and abs(c.close - s.mean_close) > 1e-9 * s.mean_close
