{#- A bar's low is its lowest and its high its highest price: low <= open, close <= high. -#}
{% test ohlc_consistent(model) %}
select *
from {{ model }}
where not (low <= open and low <= close and open <= high and close <= high and low > 0)
{% endtest %}
