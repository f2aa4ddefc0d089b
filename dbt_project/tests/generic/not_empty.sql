{#- The table has a row. Usually a warning: a fresh deployment starts empty. -#}
{% test not_empty(model) %}
select count(*) as row_count
from {{ model }}
having count(*) = 0
{% endtest %}
