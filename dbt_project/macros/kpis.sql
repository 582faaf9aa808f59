{#- Helpers around the KPI catalogue declared once in dbt_project.yml (vars kpi_catalog,
    kpi_marts, kpi_domains, kpi_goals). dim_kpi, fct_kpi_daily and the docs all read that declaration. -#}

{#- The catalogue as a dict kpi_id -> attributes, validated: a typo fails the compile, naming the kpi and the field. -#}
{% macro kpi_catalog() -%}
    {%- set catalog = var('kpi_catalog') -%}
    {%- set marts = var('kpi_marts') -%}
    {%- set goals = var('kpi_goals') -%}
    {%- set prefixes = var('kpi_domains') -%}
    {%- for kpi_id, kpi in catalog.items() -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', kpi_id) or not kpi_id.startswith(prefixes.get(kpi.domain, '?')) -%}
            {{ exceptions.raise_compiler_error("kpi_catalog: kpi_id '" ~ kpi_id ~ "' must be lower_snake_case and start with its domain's prefix " ~ prefixes) }}
        {%- endif -%}
        {%- for field in ['name', 'domain', 'mart', 'goal', 'owner', 'unit', 'direction', 'warning_band', 'rollup', 'date_basis', 'definition'] -%}
            {%- if kpi.get(field) is none or (kpi.get(field) | string | trim) == '' -%}
                {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ": field '" ~ field ~ "' is missing") }}
            {%- endif -%}
        {%- endfor -%}
        {%- if kpi.direction not in ['higher_is_better', 'lower_is_better'] -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ".direction must be higher_is_better or lower_is_better, got '" ~ kpi.direction ~ "'") }}
        {%- endif -%}
        {%- if kpi.warning_band is not number or kpi.warning_band < 0 or (kpi.get('demo_target') is not none and kpi.demo_target is not number) -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ": warning_band must be a number >= 0 and demo_target a number (or absent)") }}
        {%- endif -%}
        {%- if kpi.rollup not in ['ratio', 'sum'] -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ".rollup must be ratio or sum, got '" ~ kpi.rollup ~ "'") }}
        {%- endif -%}
        {%- if kpi.get('grain', 'day') not in ['day', 'month'] -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ".grain must be day or month, got '" ~ kpi.grain ~ "'") }}
        {%- endif -%}
        {%- if kpi.unit not in ['rate', 'amount', 'minutes', 'hours', 'seconds', 'days', 'score', 'count', 'units'] -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ".unit '" ~ kpi.unit ~ "' is not one of rate, amount, minutes, hours, seconds, days, score, count, units") }}
        {%- endif -%}
        {%- if (kpi.numerator or {}).get('sql') is none or (kpi.numerator or {}).get('type') is none -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ": numerator needs sql (over the mart's components) and type") }}
        {%- endif -%}
        {%- if (kpi.rollup == 'ratio') != (kpi.get('denominator') is not none) -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ": a ratio KPI needs a denominator (sql, type), a sum KPI has none") }}
        {%- endif -%}
        {%- if kpi.mart not in marts -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ".mart '" ~ kpi.mart ~ "' is not declared in var kpi_marts") }}
        {%- endif -%}
        {%- if kpi.goal not in goals -%}
            {{ exceptions.raise_compiler_error("kpi_catalog." ~ kpi_id ~ ".goal '" ~ kpi.goal ~ "' is not declared in var kpi_goals") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(catalog) }}
{%- endmacro %}


{#- The kpi_ids whose components live in `mart`, in catalogue order. -#}
{% macro kpis_of_mart(mart) -%}
    {%- set ids = [] -%}
    {%- for kpi_id, kpi in kpi_catalog().items() if kpi.mart == mart -%}
        {%- do ids.append(kpi_id) -%}
    {%- endfor -%}
    {{ return(ids) }}
{%- endmacro %}


{#- The KPI columns of a mart, generated from the declaration: per kpi_id of `mart`, in catalogue
    order, `<kpi_id>_numerator` and `<kpi_id>_denominator` (the declared component SQL, cast to the
    declared type) and `<kpi_id>`, the value by the rollup rule (ratio: numerator / denominator,
    NULL when it is 0; sum: the numerator, with a NULL denominator). The mart's SQL computes the
    components the declaration names; it writes no KPI column itself. The columns' docs and
    contract types are generated from the same declaration (`kpi contracts`). -#}
{% macro kpi_columns(mart) -%}
    {%- set catalog = kpi_catalog() -%}
    {%- for kpi_id in kpis_of_mart(mart) %}
        {%- set kpi = catalog[kpi_id] %}
        cast({{ kpi.numerator.sql }} as {{ kpi_sql_type(kpi.numerator.type) }}) as {{ kpi_id }}_numerator,
        {%- if kpi.rollup == 'sum' %}
        cast(null as {{ dbt.type_bigint() }}) as {{ kpi_id }}_denominator,
        cast({{ kpi.numerator.sql }} as {{ kpi_sql_type(kpi.numerator.type) }}) as {{ kpi_id }}
        {%- else %}
        cast({{ kpi.denominator.sql }} as {{ kpi_sql_type(kpi.denominator.type) }}) as {{ kpi_id }}_denominator,
        {{ safe_divide(kpi.numerator.sql, kpi.denominator.sql) }} as {{ kpi_id }}
        {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- A declared component type as the adapter spells it: bigint and double by dbt's cross-database
    macros, decimal(p,s) as written (the same on DuckDB and Spark). -#}
{% macro kpi_sql_type(declared) -%}
    {%- if declared == 'bigint' -%}{{ dbt.type_bigint() }}
    {%- elif declared == 'double' -%}{{ type_double() }}
    {%- elif modules.re.match('^decimal\\(\\d+, ?\\d+\\)$', declared) -%}{{ declared }}
    {%- else -%}{{ exceptions.raise_compiler_error("kpi_catalog: component type '" ~ declared ~ "' is not bigint, double or decimal(p,s)") }}
    {%- endif -%}
{%- endmacro %}


{#- The unit as shown to users: money is in the base currency (e.g. 'USD'), the rest as declared. -#}
{% macro kpi_unit_label(kpi) -%}
    {%- if kpi.unit == 'amount' -%}{{ base_currency() }}{%- else -%}'{{ kpi.unit }}'{%- endif -%}
{%- endmacro %}


{#- A SQL string literal of a (declaration) text: quotes doubled, whitespace folded. -#}
{% macro sql_text(text) -%}
    '{{ (text | string | trim).split() | join(' ') | replace("'", "''") }}'
{%- endmacro %}


{#- The rate into the base currency of an amount in `currency`: 1 for the base currency itself on
    every day, with or without an FX export (a one-currency business delivers none); else the
    joined rate of the transaction's date (int_finance__fx_rates_to_base.rate_to_base), NULL when
    none is published (reported per currency and day by SOP-MK-02's FX coverage gate). -#}
{% macro rate_to_base(currency, joined_rate) -%}
    case when {{ currency }} = {{ base_currency() }} then cast(1.0 as {{ type_double() }}) else {{ joined_rate }} end
{%- endmacro %}


{#- Money in base currency, from an amount in its own `currency` and the FX rate of the
    transaction's date (see rate_to_base). Rounded per transaction to
    4 decimals of the base currency, as a decimal: sums of decimals are exact, so a rerun gives
    the same KPIs to the last digit (a sum of doubles depends on the order of the rows). -#}
{% macro to_base_amount(amount, currency, joined_rate) -%}
    cast(({{ amount }}) * ({{ rate_to_base(currency, joined_rate) }}) as decimal(18, 4))
{%- endmacro %}


{#- KPI status against a target (KPI_CATALOG rule 7): on_target on the right side of the target
    (or on it); at_risk on the wrong side within warning_band × |target|; off_target beyond it.
    NULL when the value or the target is NULL. -#}
{% macro kpi_status(value, target, direction, warning_band) -%}
    case
        when {{ value }} is null or {{ target }} is null then null
        when {{ direction }} = 'higher_is_better' then
            case
                when {{ value }} >= {{ target }} then 'on_target'
                when {{ value }} >= {{ target }} - coalesce({{ warning_band }}, 0) * abs({{ target }}) then 'at_risk'
                else 'off_target'
            end
        when {{ direction }} = 'lower_is_better' then
            case
                when {{ value }} <= {{ target }} then 'on_target'
                when {{ value }} <= {{ target }} + coalesce({{ warning_band }}, 0) * abs({{ target }}) then 'at_risk'
                else 'off_target'
            end
    end
{%- endmacro %}


{#- A KPI's value from its components, by its rollup rule (dim_kpi.rollup): ratio → numerator /
    denominator (NULL, never 0 or inf, when the denominator is 0); sum (amounts, counts) → the
    numerator. The one home of the rule: fct_kpi_daily applies it to each day's sums, kpi_weekly and
    kpi_monthly to each period's (macro kpi_period_rollup), and pipelines/report.py reads those. -#}
{% macro kpi_value(rollup, numerator, denominator) -%}
    case
        when {{ rollup }} = 'sum' then cast({{ numerator }} as {{ type_double() }})
        else {{ safe_divide(numerator, denominator) }}
    end
{%- endmacro %}


{#- Every KPI of `daily` (fct_kpi_daily) rolled up per calendar `period` ('week': Monday to Sunday,
    or 'month') and segment: the components summed over the period's days, the value by the rule of
    kpi_value, never an average of daily values. `kpis` is dim_kpi (name, rollup, direction, band).
    Targets are the daily ones: kept for ratios, × the period's days for amounts and counts (their
    daily targets are whole-business figures: the rule the console's week always used). A period the
    KPI's domain has no data for on every day (the first and the current week or month) is
    is_complete = false and gets no status: visible, not judged on part of its days. Month-grain
    KPIs (one row per month) are left out of weeks. -#}
{% macro kpi_period_rollup(period, daily, kpis) -%}
{%- if period not in ['week', 'month'] -%}
    {{ exceptions.raise_compiler_error("kpi_period_rollup: period must be week or month, got '" ~ period ~ "'") }}
{%- endif %}
with

daily as (

    select * from {{ daily }}

),

kpis as (

    select * from {{ kpis }}
    {%- if period == 'week' %}
    where grain = 'day'
    {%- endif %}

),

-- the days each domain's data covers: its first and last day with any activity in a day-grain
-- KPI. Not every KPI has a row every day (no production on Sundays), and a mart's empty rows
-- (the cohort month's first day of the CLV) are no data: a period outside these days is incomplete.
coverage as (

    select daily.domain, min(daily.kpi_date) as first_date, max(daily.kpi_date) as last_date
    from daily
    inner join {{ kpis }} as all_kpis
        on daily.kpi_id = all_kpis.kpi_id
    where daily.segment_type = 'all'
        and all_kpis.grain = 'day'
        and (daily.numerator <> 0 or daily.denominator <> 0)
    group by daily.domain

),

summed as (

    select
        cast({{ dbt.date_trunc(period, 'kpi_date') }} as date) as period_start,
        kpi_id,
        segment_type,
        segment,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        -- the same on every day (model kpi_targets); NULL on segment rows of amounts and counts
        max(target) as daily_target,
        count(*) as days_with_data,
        {{ dbt.bool_or('is_stale') }} as is_stale
    from daily
    group by cast({{ dbt.date_trunc(period, 'kpi_date') }} as date), kpi_id, segment_type, segment

),

periods as (

    select
        summed.*,
        {%- if period == 'week' %}
        cast({{ dbt.dateadd('day', 6, 'summed.period_start') }} as date) as period_end
        {%- else %}
        cast({{ dbt.last_day('summed.period_start', 'month') }} as date) as period_end
        {%- endif %}
    from summed

),

valued as (

    select
        periods.period_start,
        periods.period_end,
        periods.kpi_id,
        kpis.kpi_name,
        kpis.domain,
        periods.segment_type,
        periods.segment,
        kpis.rollup,
        periods.numerator,
        periods.denominator,
        {{ kpi_value('kpis.rollup', 'periods.numerator', 'periods.denominator') }} as value,
        kpis.unit,
        case
            when kpis.rollup = 'sum' then periods.daily_target * ({{ dbt.datediff('periods.period_start', 'periods.period_end', 'day') }} + 1)
            else periods.daily_target
        end as target,
        kpis.direction,
        kpis.warning_band,
        {{ dbt.datediff('periods.period_start', 'periods.period_end', 'day') }} + 1 as days_in_period,
        periods.days_with_data,
        coalesce(periods.period_start >= coverage.first_date and periods.period_end <= coverage.last_date, false) as is_complete,
        periods.is_stale

    from periods
    inner join kpis
        on periods.kpi_id = kpis.kpi_id
    left join coverage
        on kpis.domain = coverage.domain

),

final as (

    select
        period_start,
        period_end,
        kpi_id,
        kpi_name,
        domain,
        segment_type,
        segment,
        rollup,
        cast(numerator as {{ kpi_component_type() }}) as numerator,
        cast(denominator as {{ kpi_component_type() }}) as denominator,
        value,
        unit,
        cast(target as {{ type_double() }}) as target,
        case when is_complete then {{ kpi_status('value', 'target', 'direction', 'warning_band') }} end as status,
        cast(days_in_period as {{ dbt.type_int() }}) as days_in_period,
        cast(days_with_data as {{ dbt.type_int() }}) as days_with_data,
        is_complete,
        is_stale

    from valued

)

select * from final
{%- endmacro %}


{#- The long-table rows of one mart: one row per kpi_id of the mart × mart row (kpi_date and
    its segment columns), components cast to one exact decimal type. Generated from the
    catalogue: a KPI added to the declaration (and its three columns to the mart) appears in
    fct_kpi_daily with no further code. Month-grain KPIs keep the first day of each month only. -#}
{% macro kpi_mart_rows(mart) -%}
    {%- set catalog = kpi_catalog() -%}
    {%- set segment_columns = var('kpi_marts')[mart].values() | list | unique | list -%}
    {%- for kpi_id in kpis_of_mart(mart) %}
    select
        '{{ kpi_id }}' as kpi_id,
        kpi_date,
        {%- for column in segment_columns %}
        cast({{ column }} as {{ dbt.type_string() }}) as {{ column }},
        {%- endfor %}
        cast({{ kpi_id }}_numerator as {{ kpi_component_type() }}) as numerator,
        cast({{ kpi_id }}_denominator as {{ kpi_component_type() }}) as denominator
    from {{ ref(mart) }}
    {%- if catalog[kpi_id].get('grain', 'day') == 'month' %}
    where kpi_date = cast({{ dbt.date_trunc('month', 'kpi_date') }} as date)
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- The type of numerator and denominator in the long table: exact, wide enough for any sum of
    counts and amounts, fine enough (1e-10) for minutes and hours. -#}
{% macro kpi_component_type() -%}
    decimal(38, 10)
{%- endmacro %}


{#- Whether a model's relation exists in the warehouse (true while parsing, so the ref is recorded
    either way, and in a dbt unit test, whose inputs are fixtures). fct_kpi_daily leaves out a KPI mart never built yet: its domain was held back by
    a failed data gate on its first refresh. -#}
{% macro relation_exists(relation) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}{{ return(true) }}{%- endif -%}
    {{ return(adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is not none) }}
{%- endmacro %}
