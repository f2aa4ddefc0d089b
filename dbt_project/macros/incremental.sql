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
