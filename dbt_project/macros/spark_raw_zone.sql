{#- On Spark, the dbt sources of schema `raw` are external tables over the raw zone
    (pipelines/raw_zone.py: typed Parquet, <raw zone>/<export>/export_date=YYYY-MM-DD/).
    Re-created on every dbt invocation (on-run-start): dropping an external table leaves its
    files, the columns follow the contract (the sources' data_type, generated from it), and
    RECOVER PARTITIONS registers the export dates ingestion added since. No-op on DuckDB,
    where the sources are the loader's own tables. -#}
{% macro spark_raw_zone_tables() -%}
    {%- if target.type == 'spark' and execute -%}
        {%- set root = env_var('KPI_RAW_ZONE_DIR', '') | trim -%}
        {%- if not root -%}
            {{ exceptions.raise_compiler_error("the spark target reads the raw zone: set KPI_RAW_ZONE_DIR (written by ingestion, pipelines/raw_zone.py)") }}
        {%- endif -%}
        {%- do run_query('create schema if not exists raw') -%}
        {%- for node in graph.sources.values() if node.schema == 'raw' -%}
            {%- set location = root ~ '/' ~ node.identifier -%}
            {%- do run_query('drop table if exists raw.' ~ node.identifier) -%}
            {%- if node.columns -%}
                {%- set columns = [] -%}
                {%- for column in node.columns.values() -%}
                    {%- do columns.append(column.name ~ ' ' ~ spark_type_of(column.data_type)) -%}
                {%- endfor -%}
                {%- do run_query('create table raw.' ~ node.identifier ~ ' (' ~ columns | join(', ') ~ ', export_date date)'
                                 ~ " using parquet partitioned by (export_date) location '" ~ location ~ "'") -%}
                {%- do run_query('alter table raw.' ~ node.identifier ~ ' recover partitions') -%}
            {%- else -%}
                {#- bookkeeping without declared columns (raw._load_log): the schema is the file's -#}
                {%- do run_query('create table raw.' ~ node.identifier ~ " using parquet location '" ~ location ~ "'") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- A contract type (pipelines/exports/contract.py TYPES, as the sources declare it) in Spark SQL. -#}
{% macro spark_type_of(data_type) -%}
    {%- set t = data_type | lower | trim -%}
    {%- set known = {'varchar': 'string', 'bigint': 'bigint', 'integer': 'int', 'double': 'double',
                     'boolean': 'boolean', 'date': 'date', 'timestamp': 'timestamp'} -%}
    {%- if t in known -%}{{ return(known[t]) }}
    {%- elif t.startswith('decimal') -%}{{ return(t | replace(' ', '')) }}
    {%- else -%}{{ exceptions.raise_compiler_error("raw zone: no Spark type for contract type '" ~ data_type ~ "'") }}
    {%- endif -%}
{%- endmacro %}
