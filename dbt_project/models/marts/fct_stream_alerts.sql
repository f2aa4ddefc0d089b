-- The alerts the streaming jobs raised in real time, deduplicated by event_id, for
-- comparison with the batch anomalies of fct_anomalies.
select *
from {{ ref('stg_price_alerts') }}
qualify row_number() over (partition by event_id order by event_time) = 1
