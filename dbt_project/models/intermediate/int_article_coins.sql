{{ config(materialized='view') }}
-- One row per article and coin it mentions (articles that name no coin drop out here).
select
    a.event_id,
    coin.coin_id,
    cast(a.published_at as date) as published_date,
    a.published_at,
    a.sentiment_score,
    a.sentiment_label
from {{ ref('stg_news_articles') }} as a,
    unnest(a.coins) as coin (coin_id)
