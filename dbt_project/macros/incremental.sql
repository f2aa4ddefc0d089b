{#- Helpers for incremental models. Every incremental model recomputes a trailing window
    (`lookback_minutes`) so lake files that land late are still counted, and writes with
    delete+insert on its unique key, so re-running with no new data changes nothing. -#}

{#- The literal timestamp an incremental run starts from: max(column) of this model minus
    the lookback, truncated to `unit`; none on a full build. Computed at compile time so the
    lake scan can prune hive partitions on a constant. -#}
{% macro incremental_since(column, unit='minute') -%}
    {%- if not (execute and is_incremental()) -%}{{ return(none) }}{%- endif -%}
    {%- set sql -%}
        select cast(date_trunc('{{ unit }}', max({{ column }}) - interval '{{ var('lookback_minutes') }} minutes') as varchar)
        from {{ this }}
    {%- endset -%}
    {%- set value = run_query(sql).columns[0].values()[0] -%}
    {{ return(value) }}
{%- endmacro %}

{#- A timestamp literal, or a predicate that is always true when `since` is none. -#}
{% macro since_filter(expression, since, minus='0 minutes') -%}
    {%- if since is none -%}true{%- else -%}{{ expression }} >= timestamp '{{ since }}' - interval '{{ minus }}'{%- endif -%}
{%- endmacro %}

{#- Lake rows at or after `since`, pruning the lake's date partitions first; always true when
    `since` is none (a full build). -#}
{% macro lake_rows_since(since, time_column='event_time') -%}
    {%- if since is none -%}true{%- else -%}lake_date >= cast(timestamp '{{ since }}' as date) and {{ time_column }} >= timestamp '{{ since }}'{%- endif -%}
{%- endmacro %}

{#- Watermarks: how far a model has processed its input, for models whose own rows are
    sparse (one row per alert) and so cannot tell from themselves where to resume. -#}
{% macro watermark_table() -%}
    {{ return(target.schema ~ '.dbt_watermarks') }}
{%- endmacro %}

{% macro read_watermark(model_name) -%}
    {%- if not (execute and is_incremental()) -%}{{ return(none) }}{%- endif -%}
    {%- set exists = run_query(
        "select count(*) from information_schema.tables where table_schema = '" ~ target.schema
        ~ "' and table_name = 'dbt_watermarks'").columns[0].values()[0] -%}
    {%- if exists == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set rows = run_query(
        "select cast(processed_through as varchar) from " ~ watermark_table()
        ~ " where model = '" ~ model_name ~ "'").columns[0].values() -%}
    {{ return(rows[0] if rows | length > 0 else none) }}
{%- endmacro %}

{% macro write_watermark(model_name, through_sql) -%}
    create table if not exists {{ watermark_table() }} (model varchar primary key, processed_through timestamp);
    insert or replace into {{ watermark_table() }} select '{{ model_name }}', ({{ through_sql }})
{%- endmacro %}
