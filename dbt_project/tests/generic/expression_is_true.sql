{#- Every row satisfies `expression` (a row where it is false fails; null counts as true, so
    pair it with not_null where a null would be wrong). -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
