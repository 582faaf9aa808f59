{#- One row per carrier seen in the shipments export, with its service levels, warehouses
    and shipment history. -#}

with

shipments as (

    select * from {{ ref('int_logistics__shipments') }}

),

final as (

    select
        carrier,
        cast(count(*) as {{ dbt.type_bigint() }}) as shipment_count,
        cast(count_if(is_delivered) as {{ dbt.type_bigint() }}) as delivered_shipment_count,
        cast(count_if(is_on_time) as {{ dbt.type_bigint() }}) as on_time_shipment_count,
        cast(count(distinct warehouse_id) as {{ dbt.type_bigint() }}) as warehouse_count,
        cast(count(distinct service_level) as {{ dbt.type_bigint() }}) as service_level_count,
        min(ship_date) as first_ship_date,
        max(ship_date) as last_ship_date

    from shipments
    group by carrier

)

select * from final
