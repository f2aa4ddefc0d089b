{#- The newest `column_name` is at most LAKE_MAX_STALENESS_HOURS old (the setting, passed as
    CRYPTOVIZ_LAKE_MAX_STALENESS_HOURS), plus `grain`, the period one row covers: a daily row
    is stamped with its midnight. An empty table is stale too. Usually a warning. -#}
{% test fresh(model, column_name, grain='0 hours') %}
{%- set hours = env_var('CRYPTOVIZ_LAKE_MAX_STALENESS_HOURS', '6') %}
select max({{ column_name }}) as newest
from {{ model }}
having
    max({{ column_name }}) is null
    or max({{ column_name }}) < now()::timestamp
    - to_microseconds(cast({{ hours }} * 3600000000 as bigint)) - interval '{{ grain }}'
{% endtest %}
