{#- Every non-null value lies in [min_value, max_value] (either bound optional). -#}
{% test between(model, column_name, min_value=none, max_value=none, exclusive_min=false) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null and (
    false
    {%- if min_value is not none %} or {{ column_name }} {{ '<=' if exclusive_min else '<' }} {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
)
{% endtest %}
