{#- Each column in `types` exists with exactly that DuckDB type (e.g. VARCHAR, DOUBLE, BIGINT,
    TIMESTAMP, DATE, VARCHAR[]): a row per missing or mistyped column. -#}
{% test column_types(model, types) %}
with expected (column_name, data_type) as (
    values
    {%- for column, type in types.items() %}
        ('{{ column }}', '{{ type | upper }}'){{ "," if not loop.last }}
    {%- endfor %}
),

actual as (
    select column_name, data_type
    from information_schema.columns
    where
        table_catalog = '{{ model.database }}'
        and table_schema = '{{ model.schema }}'
        and table_name = '{{ model.identifier }}'
)

select
    e.column_name,
    e.data_type as expected_type,
    a.data_type as actual_type
from expected as e
left join actual as a on e.column_name = a.column_name
where a.data_type is distinct from e.data_type
{% endtest %}
