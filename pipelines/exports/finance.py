"""Finance exports."""
from .contract import Export, col, key

fx_rates = Export(
    system="finance",
    name="fx_rates",
    description="Daily reference exchange rates: 1 unit of `currency` = `rate` units of `quote_currency`.",
    columns=(
        key("rate_date", "DATE", "Day the rate applies to."),
        key("currency", "VARCHAR", "ISO 4217 currency converted from."),
        key("quote_currency", "VARCHAR", "ISO 4217 currency converted to."),
        col("rate", "DOUBLE", "Units of quote_currency per unit of currency."),
    ),
    primary_key=("rate_date", "currency", "quote_currency"),
    event_date="rate_date",
)

EXPORTS = (fx_rates,)
