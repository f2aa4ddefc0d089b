-- The Fear & Greed index, typed; one row per index day and poll. index_date is stored as a
-- YYYY-MM-DD string (the lake partition `date` equals it).
select
    event_id,
    cast(index_date as date) as index_date,
    cast(value as integer) as value,
    classification,
    {{ utc_timestamp("event_time") }} as event_time,
    {{ utc_timestamp("ingest_time") }} as ingest_time
from {{ lake_table('market_sentiment') }}
