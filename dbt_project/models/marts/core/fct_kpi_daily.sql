{#- The long KPI table (KPI_CATALOG.md rule 6): one row per kpi_id × date × segment, so any BI
    tool charts any KPI with one query. Generated from the catalogue (var kpi_catalog): for each
    mart of var kpi_marts, every KPI of that mart is unpivoted (macro kpi_mart_rows), then
    rolled up per segment type and to the whole business (segment_type = 'all') by SUMMING the
    components and dividing again, never by averaging values. Components are exact decimals, so
    the rollups are exact and a rerun gives the same table. Targets and status from the seed
    kpi_targets: ratio KPIs are compared on every row; amounts and counts (rollup = sum) have
    whole-business daily targets, compared on 'all' rows only. -#}

{%- set catalog = kpi_catalog() %}
{%- set marts = var('kpi_marts') %}

with

{% for mart, segment_types in marts.items() if kpis_of_mart(mart) %}
{{ mart }}_rows as (
    {{ kpi_mart_rows(mart) }}
),

{{ mart }}_rollups as (
    {%- for segment_type, column in segment_types.items() %}
    select
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
    {%- for mart in marts if kpis_of_mart(mart) %}
    select * from {{ mart }}_rollups
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

kpis as (
    {%- for kpi_id, kpi in catalog.items() %}
    select
        '{{ kpi_id }}' as kpi_id,
        '{{ kpi.domain }}' as domain,
        {{ kpi_unit_label(kpi) }} as unit,
        '{{ kpi.rollup }}' as rollup
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

targets as (

    select * from {{ ref('kpi_targets') }}

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
        case
            when kpis.rollup = 'sum' then cast(rollups.numerator as {{ type_double() }})
            else {{ safe_divide('rollups.numerator', 'rollups.denominator') }}
        end as value,
        kpis.unit,
        case
            when kpis.rollup = 'ratio' or rollups.segment_type = 'all' then cast(targets.target as {{ type_double() }})
        end as target,
        targets.direction,
        targets.warning_band

    from rollups
    inner join kpis
        on rollups.kpi_id = kpis.kpi_id
    left join targets
        on rollups.kpi_id = targets.kpi_id

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
        {{ kpi_status('value', 'target', 'direction', 'warning_band') }} as status

    from valued

)

select * from final
