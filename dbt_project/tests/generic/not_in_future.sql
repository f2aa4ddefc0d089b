{#- No timestamp later than now (plus a minute of clock skew): a future event is a bad clock. -#}
{% test not_in_future(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} > now()::timestamp + interval 1 minute
{% endtest %}
