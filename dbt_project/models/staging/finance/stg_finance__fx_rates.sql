with

source as (

    select * from {{ source('finance', 'fx_rates') }}

),

renamed as (

    select

        ---------- ids
        cast(rate_date as date) as rate_date,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,
        cast(upper(trim(quote_currency)) as {{ dbt.type_string() }}) as quote_currency,

        ---------- numerics
        cast(rate as {{ type_double() }}) as rate,

        ---------- lineage
        _source_file,
        _loaded_at

    from source

)

select * from renamed
