{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['coin_id', 'minute_start'],
) }}
-- One row per coin and minute: the mean of the sources' last prices with 7- and 30-minute
-- moving averages, the price line of a warehouse younger than a day of hourly bars (the
-- report's). RANGE windows as in the bar marts: a missing minute shortens a window, and an
-- average stays null until its window is complete.
{%- set since = incremental_since('minute_start') %}

with minutes as (
    select
        coin_id,
        minute_start,
        avg(close) as price,
        count(*) as sources
    from {{ ref('int_price_minutes') }}
    where {{ since_filter('minute_start', since, minus='30 minutes') }}
    group by all
),

averaged as (
    select
        coin_id,
        minute_start,
        price,
        sources,
        case when count(price) over ma_7 = 7 then avg(price) over ma_7 end as ma_7,
        case when count(price) over ma_30 = 30 then avg(price) over ma_30 end as ma_30
    from minutes
    window
        ma_7 as (
            partition by coin_id order by minute_start
            range between interval '6 minutes' preceding and current row
        ),
        ma_30 as (
            partition by coin_id order by minute_start
            range between interval '29 minutes' preceding and current row
        )
)

select * from averaged
where {{ since_filter('minute_start', since) }}
