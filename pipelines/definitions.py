"""The one Definitions object of the code location, assembled from the modules beside it."""
import warnings

import dagster as dg

# Beta APIs used on purpose (single-run backfills, code references): their warnings would print
# once per asset on every `kpi run` and every webserver load, telling the user nothing.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from .anomaly import anomaly_checks  # noqa: E402 (after the warning filter)
from .automation import jobs, schedules, sensors  # noqa: E402
from .freshness import freshness_checks, with_mart_freshness_policy
from .ingest import landing_specs, load_log_spec, raw_assets
from .serving import serving_assets
from .settings import get_settings
from .sop import sop_asset_specs, with_sop_metadata
from .sop.refresh import SopGates, gate_checks
from .transform import DbtBuildOptions, dbt_group_owner, dbt_resource, dbt_steps


def _with_platform_owner(assets: list) -> list:
    """The assets no dbt group or SOP names (the ops tables, serving, the load log) belong to the
    data platform: the owner of dbt group `core`."""
    owner = dbt_group_owner("core")
    return list(dg.map_asset_specs(lambda spec: spec if spec.owners else spec.replace_attributes(owners=[owner]), assets))


defs = dg.Definitions(
    # Owners and the GX kind from the SOP registry on the assets its SOPs name; "Open in editor"
    # links to the Python that defines each asset (dbt models link to their SQL through the
    # translator's code references).
    # Dagster's freshness policy on the marts and the snapshot (pipelines/freshness.py).
    assets=dg.with_source_code_references(_with_platform_owner(with_mart_freshness_policy(with_sop_metadata(
        [*landing_specs, load_log_spec, *raw_assets, *dbt_steps, *sop_asset_specs(), *serving_assets]
    )))),
    # The SOP gates between the dbt steps (pipelines/sop/refresh.py): a failed data gate holds back
    # what is downstream of its asset. KPI_SOP_GATES=off leaves them out (to measure what they cost).
    # The anomaly checks (pipelines/anomaly.py): WARN, each series against its own weekday history.
    asset_checks=[freshness_checks, anomaly_checks, *(gate_checks() if get_settings().sop_gates else [])],
    jobs=jobs,
    schedules=schedules,
    sensors=sensors,
    resources={"dbt": dbt_resource(), "dbt_build": DbtBuildOptions(), "sop_gates": SopGates()},
    # One process runs the steps one after another: DuckDB takes one writer at a time,
    # and the steps are short, so process start-up would dominate anyway.
    executor=dg.in_process_executor,
)
