"""Ad-platform exports (all platforms normalised to one layout by the platforms' connectors)."""
from .contract import Export, col, key

PLATFORMS = ("google_ads", "meta_ads", "tiktok_ads")

campaigns = Export(
    system="ads",
    name="campaigns",
    description="Campaigns with budget, UTM tag, approval and flight dates (full snapshot on every delivery).",
    columns=(
        key("campaign_id", "VARCHAR", "Campaign id (unique across platforms)."),
        col("platform", "VARCHAR", "Ad platform.", allowed=PLATFORMS),
        col("campaign_name", "VARCHAR", "Name."),
        col("utm_campaign", "VARCHAR", "UTM campaign tag the ads link with; joins web_sessions.utm_campaign."),
        col("budget_amount", "DECIMAL(18,4)", "Total budget for the flight, in `currency`."),
        col("currency", "VARCHAR", "ISO 4217 currency of budget and spend."),
        col("start_date", "DATE", "First day of the flight."),
        col("end_date", "DATE", "Last day of the flight."),
        col("approved_at", "TIMESTAMP", "When the plan was approved (UTC); SOP-MK-01: before the start."),
        col("owner", "VARCHAR", "Marketing manager accountable."),
        col("updated_at", "TIMESTAMP", "Last change of the campaign (UTC)."),
    ),
    primary_key=("campaign_id",),
    change_timestamp="updated_at",
    cadence="snapshot",
)

ad_spend_daily = Export(
    system="ads",
    name="ad_spend_daily",
    description="Daily delivery and spend per campaign, in the ad account's currency.",
    columns=(
        key("spend_date", "DATE", "Day of delivery (ad account timezone = business timezone)."),
        key("platform", "VARCHAR", "Ad platform."),
        key("campaign_id", "VARCHAR", "Campaign."),
        col("impressions", "BIGINT", "Ad impressions."),
        col("clicks", "BIGINT", "Ad clicks."),
        col("spend_amount", "DECIMAL(18,4)", "Spend, in `currency`."),
        col("currency", "VARCHAR", "ISO 4217 currency of the ad account."),
    ),
    primary_key=("spend_date", "platform", "campaign_id"),
    event_date="spend_date",
)

EXPORTS = (campaigns, ad_spend_daily)
