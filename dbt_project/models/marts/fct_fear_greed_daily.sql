-- The Fear & Greed index by day: the latest published value for each index day, its change
-- from the previous day and its 7-day mean.
with latest as (
    select
        index_date,
        value,
        classification
    from {{ ref('stg_market_sentiment') }}
    qualify
        row_number() over (partition by index_date order by event_time desc, ingest_time desc)
        = 1
)

select
    index_date,
    value,
    classification,
    value - lag(value) over by_day as change,
    case when count(value) over last_7 = 7 then avg(value) over last_7 end as mean_7d
from latest
window
    by_day as (order by index_date),
    last_7 as (order by index_date range between interval 6 days preceding and current row)
