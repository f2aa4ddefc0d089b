-- Typed price ticks; timestamps as naive UTC. The lake holds every valid tick once (the
-- streaming sink deduplicates by event_id and lands exactly once).
select
    event_id,
    source,
    coin_id,
    symbol,
    name,
    cast(price_usd as double) as price_usd,
    cast(market_cap_usd as double) as market_cap_usd,
    cast(market_cap_rank as integer) as market_cap_rank,
    cast(volume_24h_usd as double) as volume_24h_usd,
    cast(ath_usd as double) as ath_usd,
    cast(circulating_supply as double) as circulating_supply,
    -- epoch_us/make_timestamp: UTC wall time whether the file stores UTC-adjusted or naive
    -- timestamps, and ~10x cheaper than a time-zone cast on 10 M rows.
    {{ utc_timestamp("event_time") }} as event_time,
    {{ utc_timestamp("ingest_time") }} as ingest_time,
    cast(replayed as boolean) as replayed,
    cast("date" as date) as lake_date
from {{ lake_table('price_ticks') }}
