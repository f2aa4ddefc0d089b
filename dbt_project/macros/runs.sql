{#- Gaps and islands: the number of the run each row belongs to, counting the rows where
    `starts_run` is 1 (a change, a gap) in order; rows of one run share the number. -#}
{% macro run_number(starts_run, partition_by, order_by) -%}
    sum({{ starts_run }}) over (partition by {{ partition_by }} order by {{ order_by }}
        rows unbounded preceding)
{%- endmacro %}
