{#- Change exports deliver the same key again with a newer change timestamp: keep the newest
    version (ties: the later load, then the later file). The one place that rule lives. -#}
{% macro keep_latest_version(key_columns, change_timestamp) -%}
    qualify row_number() over (
        partition by {{ key_columns }}
        order by {{ change_timestamp }} desc nulls last, _loaded_at desc, _source_file desc
    ) = 1
{%- endmacro %}
