{#- Identity of the long KPI table: for every kpi_id, date and segment type, the sum of each
    additive component over the segments equals the 'all' row exactly (components are exact
    decimals), and every 'all' row has its segments. Rows returned are the mismatches. -#}
{% test kpi_segments_sum_to_all(model) %}
    with

    segment_sums as (
        select
            kpi_id,
            kpi_date,
            segment_type,
            sum(numerator) as numerator,
            sum(denominator) as denominator,
            count(denominator) as denominator_rows
        from {{ model }}
        where segment_type <> 'all'
        group by kpi_id, kpi_date, segment_type
    ),

    totals as (
        select kpi_id, kpi_date, numerator, denominator
        from {{ model }}
        where segment_type = 'all'
    ),

    segment_types as (
        select distinct kpi_id, segment_type
        from {{ model }}
        where segment_type <> 'all'
    ),

    expected as (
        select totals.kpi_id, totals.kpi_date, segment_types.segment_type, totals.numerator, totals.denominator
        from totals
        inner join segment_types
            on totals.kpi_id = segment_types.kpi_id
    )

    select
        coalesce(expected.kpi_id, segment_sums.kpi_id) as kpi_id,
        coalesce(expected.kpi_date, segment_sums.kpi_date) as kpi_date,
        coalesce(expected.segment_type, segment_sums.segment_type) as segment_type,
        expected.numerator as all_numerator,
        segment_sums.numerator as segments_numerator,
        expected.denominator as all_denominator,
        segment_sums.denominator as segments_denominator
    from expected
    full outer join segment_sums
        on expected.kpi_id = segment_sums.kpi_id
        and expected.kpi_date = segment_sums.kpi_date
        and expected.segment_type = segment_sums.segment_type
    where expected.kpi_id is null
        or segment_sums.kpi_id is null
        or not coalesce(expected.numerator = segment_sums.numerator, expected.numerator is null and segment_sums.numerator is null)
        or not coalesce(expected.denominator = segment_sums.denominator, expected.denominator is null and segment_sums.denominator is null)
{% endtest %}
