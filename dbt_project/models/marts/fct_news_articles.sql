{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
) }}
-- Article-level sentiment: one row per article (event_id), with the coins it mentions.
{%- set since = incremental_since('ingest_time') %}

select
    event_id,
    source,
    title,
    url,
    published_at,
    cast(published_at as date) as published_date,
    ingest_time,
    sentiment_score,
    sentiment_label,
    coins,
    len(coins) as coin_count
from {{ ref('stg_news_articles') }}
{%- if since is not none %}
where lake_date >= cast(timestamp '{{ since }}' as date) - 1
  and ingest_time >= timestamp '{{ since }}'
  -- an article seen before the window keeps its first landing
  and event_id not in (select event_id from {{ this }} where ingest_time < timestamp '{{ since }}')
{%- endif %}
