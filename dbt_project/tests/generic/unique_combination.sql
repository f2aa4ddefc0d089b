{#- The combination of `columns` identifies a row (dbt_utils.unique_combination_of_columns,
    without the hub package this project cannot fetch offline). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
