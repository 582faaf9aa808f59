{#- SOP-RT-01 (returns processing): one row per return with
    - the value of the returned units: quantity × unit price − the line discount's share for
      those units, in the order's currency (data gate: refund ≤ that value),
    - the days from the return received to the refund issued, or waited so far while not
      refunded, as of the newest change in the returns export (process gate: 5 days). -#}

with

returns as (

    select * from {{ ref('stg_logistics__returns') }}

),

order_lines as (

    select * from {{ ref('stg_storefront__order_lines') }}

),

as_of as (

    select max(updated_at) as as_of_at from returns

)

select
    returns.return_id,
    returns.order_id,
    returns.order_line_id,
    returns.reason,
    returns.quantity,
    returns.refund_amount,
    returns.received_at,
    returns.refunded_at,
    returns.quantity * order_lines.unit_price
        - coalesce(order_lines.discount_amount, 0) * returns.quantity / nullif(order_lines.quantity, 0)
        as returned_value_amount,
    returns.refund_amount
        - (
            returns.quantity * order_lines.unit_price
            - coalesce(order_lines.discount_amount, 0) * returns.quantity / nullif(order_lines.quantity, 0)
        ) as refund_over_returned_value_amount,
    case
        when returns.received_at is not null then
            cast({{ dbt.datediff('returns.received_at', 'coalesce(returns.refunded_at, as_of.as_of_at)', 'second') }}
                as {{ type_double() }}) / 86400
    end as days_received_to_refunded,
    greatest(returns._loaded_at, coalesce(order_lines._loaded_at, returns._loaded_at)) as _loaded_at

from returns
cross join as_of
left join order_lines
    on returns.order_line_id = order_lines.order_line_id
