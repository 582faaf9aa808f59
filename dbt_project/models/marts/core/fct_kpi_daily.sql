{#- The long KPI table (KPI_CATALOG.md rule 6): one row per kpi_id × date × segment, so any BI
    tool charts any KPI with one query. Generated from the catalogue (var kpi_catalog): for each
    mart of var kpi_marts, every KPI of that mart is unpivoted (macro kpi_mart_rows), then
    rolled up per segment type and to the whole business (segment_type = 'all') by SUMMING the
    components and dividing again, never by averaging values. Components are exact decimals, so
    the rollups are exact and a rerun gives the same table. Targets and status from the seed
    kpi_targets: ratio KPIs are compared on every row; amounts and counts (rollup = sum) have
    whole-business daily targets, compared on 'all' rows only.
    One domain's bad data holds back that domain only: a mart held by a failed data gate is not
    rebuilt (Dagster skips its step, pipelines/sop/refresh.py), this table reads its last good
    version and marks those rows stale with the gate and the reason (source ops.kpi_mart_state);
    a mart never built yet has no rows here. -#}

{%- set catalog = kpi_catalog() %}
{%- set marts = var('kpi_marts') %}

with

{%- set present = [] %}
{%- for mart in marts if kpis_of_mart(mart) and relation_exists(ref(mart)) %}{% do present.append(mart) %}{% endfor %}

{% for mart, segment_types in marts.items() if mart in present %}
{{ mart }}_rows as (
    {{ kpi_mart_rows(mart) }}
),

{{ mart }}_rollups as (
    {%- for segment_type, column in segment_types.items() %}
    select
        '{{ mart }}' as mart,
        kpi_id,
        kpi_date,
        '{{ segment_type }}' as segment_type,
        coalesce({{ column }}, 'unknown') as segment,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from {{ mart }}_rows
    group by kpi_id, kpi_date, coalesce({{ column }}, 'unknown')

    union all
    {%- endfor %}
    select
        '{{ mart }}' as mart,
        kpi_id,
        kpi_date,
        'all' as segment_type,
        'all' as segment,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from {{ mart }}_rows
    group by kpi_id, kpi_date
),

{% endfor %}
rollups as (
    {%- for mart in present %}
    select * from {{ mart }}_rollups
    {{ 'union all' if not loop.last }}
    {%- else %}
    {#- no KPI mart built yet (a first run whose every domain is held): an empty table, not a syntax error #}
    select
        cast(null as {{ dbt.type_string() }}) as mart,
        cast(null as {{ dbt.type_string() }}) as kpi_id,
        cast(null as date) as kpi_date,
        cast(null as {{ dbt.type_string() }}) as segment_type,
        cast(null as {{ dbt.type_string() }}) as segment,
        cast(null as decimal(38, 10)) as numerator,
        cast(null as decimal(38, 10)) as denominator
    where 1 = 0
    {%- endfor %}
),

kpis as (
    {%- for kpi_id, kpi in catalog.items() %}
    select
        '{{ kpi_id }}' as kpi_id,
        '{{ kpi.domain }}' as domain,
        {{ kpi_unit_label(kpi) }} as unit,
        '{{ kpi.rollup }}' as rollup,
        '{{ kpi.direction }}' as direction
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

targets as (

    select * from {{ ref('kpi_targets') }}

),

mart_state as (

    select * from {{ source('ops', 'kpi_mart_state') }}

),

valued as (

    select
        rollups.kpi_id,
        kpis.domain,
        rollups.kpi_date,
        rollups.segment_type,
        rollups.segment,
        rollups.numerator,
        rollups.denominator,
        {{ kpi_value('kpis.rollup', 'rollups.numerator', 'rollups.denominator') }} as value,
        kpis.unit,
        case
            when kpis.rollup = 'ratio' or rollups.segment_type = 'all' then cast(targets.target as {{ type_double() }})
        end as target,
        kpis.direction,
        targets.warning_band,
        mart_state.held_by is not null as is_stale,
        case when mart_state.held_by is not null then mart_state.built_at end as last_good_built_at,
        mart_state.held_by as stale_gate,
        mart_state.held_reason as stale_reason

    from rollups
    inner join kpis
        on rollups.kpi_id = kpis.kpi_id
    left join targets
        on rollups.kpi_id = targets.kpi_id
    left join mart_state
        on rollups.mart = mart_state.mart

),

final as (

    select
        kpi_id,
        domain,
        kpi_date,
        segment_type,
        segment,
        numerator,
        denominator,
        value,
        unit,
        target,
        {{ kpi_status('value', 'target', 'direction', 'warning_band') }} as status,
        is_stale,
        stale_gate,
        stale_reason,
        last_good_built_at

    from valued

)

select * from final
