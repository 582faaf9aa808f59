{#- Data tests in a nightly run read the run's window only, as the SOP gates do.

    Every generic data test reads the model it tests through get_where_subquery (dbt's own hook,
    overridden here). In a run with the window vars (a partitioned run: pipelines/partitions.py)
    a test on a staging model reads only the rows whose business day is in the window, the day
    taken from its export's `event_date` (source meta, generated from the export contracts). A
    full refresh and `dbt test` without vars read everything, as before. So a nightly run no
    longer re-checks a year of history per test; a duplicate between an old row and a new one
    is found by the next full refresh (and by the SOP intake gates on the load itself). -#}

{% macro get_where_subquery(relation) -%}
    {%- set filters = [config.get('where'), data_test_window()] | reject('none') | reject('equalto', '') | list -%}
    {%- if filters -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The window filter of the tested model, or none (no window vars, or no event date known). -#}
{% macro data_test_window() -%}
    {%- if not (execute and incremental_window_set()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.get('attached_node') or '') -%}
    {%- if not tested or tested.resource_type != 'model' or tested.fqn[1] != 'staging' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for uid in tested.depends_on.nodes if uid.startswith('source.') -%}
        {%- set event_date = (graph.sources[uid].meta or {}).get('event_date') -%}
        {%- if event_date -%}
            {{ return(in_incremental_window(business_date(event_date))) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
