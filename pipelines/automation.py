"""Jobs (and, later, schedules and sensors)."""
import dagster as dg

# Landing files are external assets: observed, never materialized.
refresh_all = dg.define_asset_job(
    "refresh_all",
    selection=dg.AssetSelection.all() - dg.AssetSelection.key_prefixes("landing"),
    description="Load every export, build every dbt model and run every check.",
)

jobs = [refresh_all]
