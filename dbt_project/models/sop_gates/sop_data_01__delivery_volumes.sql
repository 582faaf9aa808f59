{#- SOP-DATA-01 (export intake): one row per delivered file of each export, with its rows
    loaded and the average of the export's previous 7 files (daily files, named by day, so
    file order is day order). The ratio is NULL until 7 earlier files exist, and for an
    empty file when the file 7 back was empty too (a day the operation is regularly closed,
    e.g. no production on Sundays). The process gate holds the band and the smallest
    baseline worth judging. -#}

with

files as (

    select
        export,
        source_file,
        rows_loaded,
        loaded_at,
        count(*) over (
            partition by export order by source_file rows between 7 preceding and 1 preceding
        ) as previous_file_count,
        avg(cast(rows_loaded as {{ type_double() }})) over (
            partition by export order by source_file rows between 7 preceding and 1 preceding
        ) as trailing_7_file_avg_rows,
        lag(rows_loaded, 7) over (partition by export order by source_file) as rows_loaded_7_files_back

    from {{ source('raw_meta', '_load_log') }}

)

select
    export,
    source_file,
    rows_loaded,
    previous_file_count,
    trailing_7_file_avg_rows,
    case
        when previous_file_count < 7 then null
        when rows_loaded = 0 and rows_loaded_7_files_back = 0 then null
        else {{ safe_divide('rows_loaded', 'trailing_7_file_avg_rows') }}
    end as volume_ratio,
    loaded_at as _loaded_at

from files
