{#- The date window of an incremental run (pipelines/partitions.py passes it as --vars).

    A partitioned run sets the window's first and last business day (lookback included); the
    incremental models then rebuild only the days in that window (delete+insert on their date
    column on DuckDB, insert_overwrite of whole date partitions on Spark). Without the vars (an
    unpartitioned run, `kpi run`) or on a first build, every day is rebuilt, as a table would be. -#}

{#- The window's first and last business day: var() when given (dbt unit tests, a hand-run
    `dbt build --vars '{min_date: ..., max_date: ...}'`), else the environment the pipeline sets
    (KPI_WINDOW_MIN_DATE / KPI_WINDOW_MAX_DATE, pipelines/transform.py). The pipeline does not use
    --vars: changed vars make dbt re-parse the whole project (7 s instead of 3 s, every night),
    while an environment variable read when a model runs does not. -#}
{% macro window_min_date() -%}
    {{ return(var('min_date', none) or env_var('KPI_WINDOW_MIN_DATE', '') or none) }}
{%- endmacro %}

{% macro window_max_date() -%}
    {{ return(var('max_date', none) or env_var('KPI_WINDOW_MAX_DATE', '') or none) }}
{%- endmacro %}

{#- Call as `is_incremental() and incremental_window_set()`: is_incremental() stays in the model,
    where dbt unit tests can override it. -#}
{% macro incremental_window_set() -%}
    {{ return(window_min_date() is not none and window_max_date() is not none) }}
{%- endmacro %}

{#- config() arguments of an incremental model keyed on its business date column. -#}
{% macro incremental_by_date(date_column) -%}
    {%- if target.type == 'spark' -%}
        {{ return({'materialized': 'incremental', 'incremental_strategy': 'insert_overwrite',
                   'partition_by': [date_column], 'on_schema_change': 'fail'}) }}
    {%- else -%}
        {{ return({'materialized': 'incremental', 'incremental_strategy': 'delete+insert',
                   'unique_key': date_column, 'on_schema_change': 'fail'}) }}
    {%- endif -%}
{%- endmacro %}

{#- Business dates inside the window (a whole-day filter: never a row-level lookback). -#}
{% macro in_incremental_window(date_expr) -%}
    {{ date_expr }} between cast('{{ window_min_date() }}' as date) and cast('{{ window_max_date() }}' as date)
{%- endmacro %}

{#- A UTC timestamp at or after the window's first business day, with a day of slack for any
    timezone offset: lets the scan of a large table skip old row groups before the exact filter. -#}
{% macro after_incremental_window_start(utc_timestamp) -%}
    {{ utc_timestamp }} >= cast({{ dbt.dateadd('day', -1, "cast('" ~ window_min_date() ~ "' as date)") }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
