{#- The SOP gate results the pipeline writes (pipelines/sop/results.py inserts by column
    name) and dbt reads (source `ops`). The one home of their layout: created on every dbt
    invocation (on-run-start), so a dbt-only build of an empty warehouse compiles too. -#}

{% macro sop_ops_schema() -%}
    create schema if not exists ops
{%- endmacro %}

{% macro sop_check_results_ddl() -%}
    create table if not exists ops.sop_check_results (
        run_id {{ dbt.type_string() }},             -- Dagster run that evaluated the gate
        sop_id {{ dbt.type_string() }},             -- SOP of the registry (expectations/sops.yml)
        suite {{ dbt.type_string() }},              -- GX suite (expectations/<suite>.json)
        gate_severity {{ dbt.type_string() }},      -- block (data gate) or warn (process gate)
        asset {{ dbt.type_string() }},              -- Dagster asset the check is on
        relation {{ dbt.type_string() }},           -- table, view or query validated
        expectation {{ dbt.type_string() }},        -- the expectation's id within the suite
        expectation_type {{ dbt.type_string() }},
        column_name {{ dbt.type_string() }},
        rows_evaluated {{ dbt.type_bigint() }},     -- rows the expectation looked at (refresh window)
        unexpected {{ dbt.type_bigint() }},         -- rows breaking it
        unexpected_percent {{ type_double() }},
        success boolean,
        observed_value {{ dbt.type_string() }},
        unexpected_sample {{ dbt.type_string() }},  -- JSON: a few offending values and keys
        error {{ dbt.type_string() }},              -- set when the expectation could not run
        window_start {{ dbt.type_timestamp() }},    -- rows loaded after this (NULL: from the start)
        window_end {{ dbt.type_timestamp() }},      -- newest load stamp among the rows evaluated
        checked_at {{ dbt.type_timestamp() }}       -- UTC
    )
{%- endmacro %}

{% macro sop_refresh_log_ddl() -%}
    create table if not exists ops.sop_refresh_log (
        run_id {{ dbt.type_string() }},
        started_at {{ dbt.type_timestamp() }},      -- UTC
        finished_at {{ dbt.type_timestamp() }},     -- UTC
        models_built {{ dbt.type_bigint() }},
        marts_built {{ dbt.type_bigint() }},        -- KPI mart tables (marts.fct_*) rebuilt
        models_blocked {{ dbt.type_bigint() }},     -- not built: downstream of a failed gate or test
        blocked_by {{ dbt.type_string() }}          -- the failed gates and tests, comma-separated
    )
{%- endmacro %}

{#- One row per KPI mart (var kpi_marts): when its rows were last built, and whether a failed
    data gate holds it back (its last good rows stay; fct_kpi_daily marks them stale). Written by
    the data gate steps (held) and the dbt steps (built): pipelines/sop/refresh.py. Its columns are
    described in models/marts/sop/_sop__sources.yml (published: the snapshot's column comments). -#}
{% macro kpi_mart_state_ddl() -%}
    create table if not exists ops.kpi_mart_state (
        mart {{ dbt.type_string() }},
        built_at {{ dbt.type_timestamp() }},
        built_run_id {{ dbt.type_string() }},
        held_by {{ dbt.type_string() }},
        held_reason {{ dbt.type_string() }},
        held_since {{ dbt.type_timestamp() }},
        held_run_id {{ dbt.type_string() }}
    )
{%- endmacro %}

{#- One row per (expectation, row) a data gate let through below its tolerance (GX `mostly`):
    quarantined, left out of the domain's KPIs by macro not_quarantined. Each run that evaluates
    the gate replaces its rows (pipelines/sop/results.py write_quarantine). -#}
{% macro sop_quarantine_ddl() -%}
    create table if not exists ops.sop_quarantine (
        run_id {{ dbt.type_string() }},             -- Dagster run that quarantined the row
        sop_id {{ dbt.type_string() }},
        suite {{ dbt.type_string() }},              -- the data gate (expectations/<suite>.json)
        asset {{ dbt.type_string() }},              -- Dagster asset the gate is on (layer/model)
        relation {{ dbt.type_string() }},           -- table or view the gate validated
        expectation {{ dbt.type_string() }},        -- the expectation's id within the suite
        key_columns {{ dbt.type_string() }},        -- the gate's keys (sops.yml), comma-separated
        key_values {{ dbt.type_string() }},         -- their values, joined by | (macro not_quarantined)
        row_keys {{ dbt.type_string() }},           -- JSON: key column -> value
        reason {{ dbt.type_string() }},             -- the rule broken, the offending values, the share and the tolerance
        quarantined_at {{ dbt.type_timestamp() }}   -- UTC
    )
{%- endmacro %}

{#- `dbt run-operation create_sop_ops_tables`: the same tables without a build (used by the
    pipeline when it writes gate results before any dbt command ran on a new warehouse). -#}
{% macro create_sop_ops_tables() -%}
    {% do run_query(sop_ops_schema()) %}
    {% do run_query(sop_check_results_ddl()) %}
    {% do run_query(sop_refresh_log_ddl()) %}
    {% do run_query(kpi_mart_state_ddl()) %}
    {% do run_query(sop_quarantine_ddl()) %}
{%- endmacro %}
