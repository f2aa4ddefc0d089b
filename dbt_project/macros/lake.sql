{#- Read a lake table (a Delta table, via the source's delta_scan), or an empty relation of
    the same columns while the table does not exist yet (no Delta log): a fresh deployment
    builds (empty marts) before the first Spark batch lands.
    `source()` is called unconditionally so dbt (and Dagster) see the dependency. -#}
{% macro lake_table(name) -%}
    {%- set relation = source('lake', name) -%}
    {%- if execute and not lake_table_exists(name) -%}
        {%- set node = graph.sources['source.cryptoviz.lake.' ~ name] -%}
        (select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
        where false)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro lake_root() -%}
    {{ return(env_var('CRYPTOVIZ_LAKE_ROOT', '../var/lake').rstrip('/')) }}
{%- endmacro %}

{#- A Delta table exists once its first commit is in `<table>/_delta_log/`. -#}
{% macro lake_table_exists(name) -%}
    {%- set pattern = lake_root() ~ '/' ~ name ~ '/_delta_log/*.json' -%}
    {%- set result = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- A lake timestamp as naive UTC, whatever the table stores: a Delta timestamp (UTC, the
    contract), a timestamp_ntz (read as UTC), or an ISO-8601 string ending in Z.
    epoch_us/make_timestamp avoids a slow time-zone cast on the common path. -#}
{% macro utc_timestamp(column) -%}
    make_timestamp(epoch_us(cast({{ column }} as timestamptz)))
{%- endmacro %}
