-- One alert per coin, type and window, and its id is derived from exactly those.
select alert_id
from {{ ref('fct_anomalies') }}
where alert_id <> md5(alert_type || '|' || coin_id || '|' || cast(window_start as varchar))
union all
select min(alert_id)
from {{ ref('fct_anomalies') }}
group by coin_id, alert_type, window_start
having count(*) > 1
