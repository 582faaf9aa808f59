{#- The business date of a UTC timestamp: the calendar date in var('business_timezone').
    Every KPI date basis goes through here, so changing the zone moves all KPIs alike. -#}
{% macro business_date(utc_timestamp) -%}
    {{ return(adapter.dispatch('business_date', 'kpi_warehouse')(utc_timestamp)) }}
{%- endmacro %}

{% macro duckdb__business_date(utc_timestamp) -%}
    {%- set tz = business_timezone() -%}
    {%- if tz == 'UTC' -%}
        cast({{ utc_timestamp }} as date)
    {%- else -%}
        {#- timezone('UTC', ts) reads the naive timestamp as UTC (an instant), timezone(tz, instant)
            gives the wall-clock time there: independent of the session's TimeZone. -#}
        cast(timezone('{{ tz }}', timezone('UTC', {{ utc_timestamp }})) as date)
    {%- endif -%}
{%- endmacro %}

{% macro spark__business_date(utc_timestamp) -%}
    {%- set tz = business_timezone() -%}
    {%- if tz == 'UTC' -%}
        to_date({{ utc_timestamp }})
    {%- else -%}
        to_date(from_utc_timestamp({{ utc_timestamp }}, '{{ tz }}'))
    {%- endif -%}
{%- endmacro %}

{% macro default__business_date(utc_timestamp) -%}
    {%- set tz = business_timezone() -%}
    {%- if tz == 'UTC' -%}
        cast({{ utc_timestamp }} as date)
    {%- else -%}
        cast(({{ utc_timestamp }} at time zone 'UTC') at time zone '{{ tz }}' as date)
    {%- endif -%}
{%- endmacro %}


{#- The configured business timezone, validated: it is spliced into SQL as a literal. -#}
{% macro business_timezone() -%}
    {%- set tz = (var('business_timezone', 'UTC') or 'UTC') | string | trim -%}
    {%- if not modules.re.match('^[A-Za-z][A-Za-z0-9_+/-]*$', tz) -%}
        {{ exceptions.raise_compiler_error("var business_timezone (env KPI_BUSINESS_TIMEZONE) must be an IANA zone name such as 'Europe/Berlin', got '" ~ tz ~ "'") }}
    {%- endif -%}
    {{ return(tz) }}
{%- endmacro %}
