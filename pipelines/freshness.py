"""Freshness: is every export delivered at its cadence, and were the KPI marts refreshed in time?

One asset check `freshness` per raw export (from `raw._load_log`: when its newest file was
loaded, against the export contract's cadence) and one on marts/fct_kpi_daily (from
`ops.sop_refresh_log`: when the newest refresh that rebuilt the KPI marts finished). The marts'
limit is SOP-MK-02's own (the `max_value` of its suite `sop_mk_02__mart_refresh`, 26 h): the gate
judges the gap between consecutive refreshes when a refresh runs, this check judges the age of
the newest one whenever it is evaluated, so a refresh that never ran shows as stale too.

They run in every refresh and on their own schedule (`export_freshness`, hourly), WARN severity:
a late export is a reason to look, not to stop the KPIs of the other exports.

And Dagster's own freshness policy (`with_mart_freshness_policy`) on every KPI mart and the serving
assets, with the same limit: the UI's asset health shows a mart or the snapshot not materialized
within it. Only a check can judge the exports: a policy sees materializations, not a late file.
"""
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from .exports import EXPORTS, Export
from .ingest import DUCKDB_WRITER_POOL, LOAD_LOG, raw_asset_key
from .ops_tables import REFRESH_LOG
from .settings import get_settings

CHECK_NAME = "freshness"
MARTS_KEY = dg.AssetKey(["marts", "fct_kpi_daily"])
MART_REFRESH_SUITE = "sop_mk_02__mart_refresh"


def mart_max_age_hours() -> float:
    """SOP-MK-02's limit between mart refreshes: one home, the suite the business edits."""
    from .sop.registry import EXPECTATIONS_DIR, load_suite

    path = EXPECTATIONS_DIR / f"{MART_REFRESH_SUITE}.json"
    for exp in load_suite(path)["expectations"]:
        if exp["kwargs"].get("column") == "hours_since_previous_refresh" and exp["kwargs"].get("max_value") is not None:
            return float(exp["kwargs"]["max_value"])
    raise ValueError(f"{path}: no max_value on hours_since_previous_refresh (the marts' refresh limit)")


def mart_freshness_policy() -> dg.FreshnessPolicy:
    """The marts and the snapshot must be materialized within SOP-MK-02's limit (Dagster evaluates
    it: `freshness: enabled` in config/dagster.yaml)."""
    return dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=mart_max_age_hours()))


def with_mart_freshness_policy(assets: list) -> list:
    """`assets` with the marts' freshness policy on every KPI mart (`marts/*`) and serving asset."""
    policy = mart_freshness_policy()
    return list(dg.map_asset_specs(
        lambda spec: dg.apply_freshness_policy(spec, policy) if spec.key.path[0] in ("marts", "serving") else spec,
        assets))


@dataclass(frozen=True)
class Freshness:
    key: dg.AssetKey
    what: str
    last: dt.datetime | None  # UTC
    max_age_hours: float | None
    now: dt.datetime
    # False: the business does not deliver this export (config/exports.yml): nothing is due.
    in_use: bool = True

    @property
    def age_hours(self) -> float | None:
        return None if self.last is None else round((self.now - self.last).total_seconds() / 3600, 2)

    @property
    def passed(self) -> bool:
        if not self.in_use:
            return True
        if self.last is None:
            return False  # never delivered (or never refreshed)
        return self.max_age_hours is None or self.age_hours <= self.max_age_hours

    @property
    def description(self) -> str:
        if not self.in_use:
            return f"{self.what}: not in use (not delivered, per the exports config)"
        if self.last is None:
            return f"{self.what}: never"
        limit = "no age limit" if self.max_age_hours is None else f"limit {self.max_age_hours:g} h"
        return f"{self.what} {self.age_hours:g} h ago ({self.last:%Y-%m-%d %H:%M} UTC; {limit})"


def evaluate(warehouse_path: Path, now: dt.datetime | None = None, exports: tuple[Export, ...] = EXPORTS,
             delivered: frozenset[str] | None = None) -> list[Freshness]:
    """Freshness of every export and of the KPI marts, as of `now` (UTC, default: the clock).
    `delivered`: names of the exports in use (default: all); the others are not due."""
    from .warehouse import connect, tables

    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    last_load: dict[str, dt.datetime] = {}
    last_refresh = None
    if Path(warehouse_path).exists():
        with connect(warehouse_path, read_only=True) as con:
            existing = tables(con)
            if LOAD_LOG in existing:
                last_load = dict(con.execute(f"SELECT export, max(loaded_at) FROM {LOAD_LOG} GROUP BY export").fetchall())
            if REFRESH_LOG in existing:
                last_refresh = con.execute(
                    f"SELECT max(finished_at) FROM {REFRESH_LOG} WHERE marts_built > 0").fetchone()[0]
    out = [Freshness(raw_asset_key(e), f"{e.cadence} export {e.name}: newest file loaded", last_load.get(e.name),
                     e.expected_max_age_hours, now, delivered is None or e.name in delivered) for e in exports]
    out.append(Freshness(MARTS_KEY, "KPI marts: last refresh finished", last_refresh, mart_max_age_hours(), now))
    return out


def _result(f: Freshness) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=f.key, check_name=CHECK_NAME, passed=f.passed, severity=dg.AssetCheckSeverity.WARN,
        description=f.description,
        metadata={"last_update_utc": str(f.last) if f.last else "never", "age_hours": f.age_hours,
                  "max_age_hours": f.max_age_hours, "evaluated_at_utc": str(f.now)},
    )


@dg.multi_asset_check(
    name="freshness_checks",
    specs=[dg.AssetCheckSpec(CHECK_NAME, asset=raw_asset_key(e),
                             description=f"A file of the {e.cadence} export {e.name} was loaded within "
                                         + (f"{e.expected_max_age_hours:g} h" if e.expected_max_age_hours else "its first delivery"))
           for e in EXPORTS]
          + [dg.AssetCheckSpec(CHECK_NAME, asset=MARTS_KEY,
                               description="The KPI marts were refreshed within SOP-MK-02's limit (suite sop_mk_02__mart_refresh)")],
    can_subset=True,
    # A reader: it waits for the writers' lane instead of meeting a writer's lock.
    pool=DUCKDB_WRITER_POOL,
)
def freshness_checks(context: dg.AssetCheckExecutionContext):
    wanted = set(context.selected_asset_check_keys)
    from .exports.delivered import delivered_exports

    settings = get_settings()
    for f in evaluate(settings.warehouse_path, delivered=delivered_exports(settings.exports_config)):
        if dg.AssetCheckKey(f.key, CHECK_NAME) in wanted:
            yield _result(f)
