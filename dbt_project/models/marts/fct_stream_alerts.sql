-- The alerts the streaming jobs raised in real time, deduplicated by event_id, for
-- comparison with the episodes of fct_anomaly_episodes (same rules, same thresholds).
select *
from {{ ref('stg_price_alerts') }}
qualify row_number() over (partition by event_id order by event_time) = 1
