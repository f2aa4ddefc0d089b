-- Typed news articles. A feed repeats the same item for days; the lake may hold it more
-- than once, so keep the first landing of each event_id.
select
    event_id,
    source,
    guid,
    url,
    title,
    summary,
    cast(authors as varchar[]) as authors,
    cast(categories as varchar[]) as categories,
    {{ utc_timestamp("event_time") }} as published_at,
    {{ utc_timestamp("ingest_time") }} as ingest_time,
    cast(sentiment_score as double) as sentiment_score,
    sentiment_label,
    coalesce(cast(coins as varchar[]), []) as coins,
    cast("date" as date) as lake_date
from {{ lake_table('news_articles') }}
qualify row_number() over (partition by event_id order by ingest_time, url) = 1
