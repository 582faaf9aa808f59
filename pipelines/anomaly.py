"""Anomaly checks: each KPI's value and denominator, and each daily export's rows per load, against its own history.

The rule (one home: `RULE_SQL`, run in DuckDB). A series is one number per business day: a KPI's
whole-business value or denominator (`marts.fct_kpi_daily`, segment_type 'all'), or the rows an
export's files of one business date loaded (`raw._load_log`, the date in the file name). Its newest
day is judged against the same weekday of the `HISTORY_WEEKS` weeks before it (weekday seasonality:
a Sunday is compared with Sundays only):

    median, MAD  = median of those days' values, median(|value - median|)
    half-width   = max(BAND_K × MAD_SCALE × MAD, MIN_RELATIVE_WIDTH × |median|)
    band         = [median - half-width, median + half-width]
    anomaly      = the newest value lies outside the band

`MAD_SCALE × MAD` estimates a standard deviation robustly (one outlier in the history does not
widen the band); `MIN_RELATIVE_WIDTH` keeps a perfectly steady history (MAD 0) from flagging
every small change. A series is **not judged** (shown as such, never passed as "normal") when
fewer than `MIN_HISTORY` of those weekdays have a value, when it counts fewer than `MIN_VOLUME`
cases (median over those weekdays: an export's rows, a ratio KPI's denominator; small counts
swing too much to judge), or its newest day has no value (a ratio KPI whose denominator is 0); month-grain KPIs and KPIs not computed (an export not
delivered) are not judged either, with the reason.

The checks (`anomaly_checks`, WARN, non-blocking): `rows_per_load_anomaly` on every daily raw
export, `kpi_anomaly` on marts/fct_kpi_daily (all KPIs in one evaluation). A new anomaly raises
one alert of kind `anomaly` addressed to the owner (pipelines/alerts.py): the KPI's catalogue
owner, or the owners of the raw export asset in the SOP registry.
"""

import dataclasses
from pathlib import Path
from typing import Any

import dagster as dg

from .exports import BY_NAME, EXPORTS, Export
from .ingest import DUCKDB_WRITER_POOL, LOAD_LOG, raw_asset_key

# --- the rule's parameters -------------------------------------------------------------------
HISTORY_WEEKS = 8  # how far back the same weekday is looked for: 8 weeks, 8 earlier values at most
MIN_HISTORY = 4  # fewer earlier same-weekday values than this: not judged
BAND_K = 3.5  # band half-width in robust standard deviations (Iglewicz & Hoaglin's modified z-score cut)
MAD_SCALE = 1.4826  # MAD × 1.4826 estimates the standard deviation of normally distributed values
MIN_RELATIVE_WIDTH = 0.3  # the band is never narrower than ±30 % of the median (SOP-DATA-01's volume gate: 30 %)
# Counts below this (median over the history) are too noisy to judge: the rows an export loads, a count KPI, a ratio
# KPI's denominator and, for its value, the denominator it is a rate of (SOP-DATA-01 judges volumes from 100 rows a day too).
MIN_VOLUME = 100

KPI_CHECK = "kpi_anomaly"
EXPORT_CHECK = "rows_per_load_anomaly"
KPI_KEY = dg.AssetKey(["marts", "fct_kpi_daily"])
ALERT_KIND = "anomaly"
DAILY_EXPORTS = tuple(e for e in EXPORTS if e.cadence == "daily")  # a snapshot has no business date per load

# The series, one number per (subject, measure, day). `anomaly_series` is a temp view the caller defines.
KPI_SERIES_SQL = """
    SELECT f.kpi_id AS subject, m.measure, f.kpi_date AS day,
           CASE m.measure WHEN 'value' THEN f.value ELSE f.denominator END AS observed,
           -- how many cases the day stands on: a ratio KPI's denominator, a count KPI's own count (a median
           -- of 0 or 2 unanswered tickets is too small to judge); an amount has no floor
           CASE WHEN k.rollup = 'ratio' THEN f.denominator WHEN k.unit = 'count' THEN f.value END AS volume
    FROM marts.fct_kpi_daily AS f
    JOIN marts.dim_kpi AS k USING (kpi_id)
    -- a 'sum' KPI has no denominator (its value is its numerator)
    JOIN (VALUES ('value'), ('denominator')) AS m(measure) ON m.measure = 'value' OR k.rollup = 'ratio'
    WHERE f.segment_type = 'all' AND k.grain = 'day' AND f.kpi_date IS NOT NULL"""
# A business date per load: the YYYY-MM-DD in the file name (daily files are named by day); files
# re-delivered replace their row of the log, byte-identical copies log 0 rows: summing per date counts each row once.
EXPORT_SERIES_SQL = f"""
    SELECT export AS subject, 'rows_loaded' AS measure,
           try_cast(regexp_extract(source_file, '(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1) AS DATE) AS day,
           sum(rows_loaded)::DOUBLE AS observed, sum(rows_loaded)::DOUBLE AS volume
    FROM {LOAD_LOG}
    GROUP BY ALL
    HAVING day IS NOT NULL"""

RULE_SQL = """
WITH series AS (SELECT subject, measure, day, observed::DOUBLE AS observed, volume::DOUBLE AS volume FROM anomaly_series),
newest AS (
    SELECT subject, measure, day, observed FROM series
    QUALIFY row_number() OVER (PARTITION BY subject, measure ORDER BY day DESC) = 1),
history AS (  -- the same weekday of the $weeks weeks before the newest day, where it has a value
    SELECT n.subject, n.measure, s.day, s.observed, s.volume
    FROM newest AS n JOIN series AS s USING (subject, measure)
    WHERE s.observed IS NOT NULL AND (n.day - s.day) % 7 = 0 AND n.day - s.day BETWEEN 7 AND 7 * $weeks),
centre AS (
    SELECT subject, measure, median(observed) AS median, count(*) AS history_count, median(volume) AS median_volume,
           list(struct_pack(day := day, value := observed) ORDER BY day) AS history
    FROM history GROUP BY ALL),
spread AS (
    SELECT subject, measure, median(abs(h.observed - c.median)) AS mad
    FROM history AS h JOIN centre AS c USING (subject, measure) GROUP BY ALL),
band AS (
    SELECT n.subject, n.measure, n.day, n.observed, c.median, s.mad, coalesce(c.history_count, 0) AS history_count,
           c.history, c.median_volume, greatest($k * $mad_scale * s.mad, $min_relative_width * abs(c.median)) AS half_width
    FROM newest AS n LEFT JOIN centre AS c USING (subject, measure) LEFT JOIN spread AS s USING (subject, measure))
SELECT subject, measure, day, observed, median, mad, median - half_width AS lower, median + half_width AS upper,
       history_count, history,
       CASE WHEN history_count < $min_history THEN 'not_judged'
            WHEN observed IS NULL THEN 'not_judged'
            WHEN median_volume < $min_volume THEN 'not_judged'
            WHEN observed < median - half_width OR observed > median + half_width THEN 'anomaly'
            ELSE 'normal' END AS verdict,
       CASE WHEN history_count < $min_history
                THEN printf('too little history: %d earlier %s(s) with a value in %d weeks, %d needed',
                            history_count, dayname(day), $weeks, $min_history)
            WHEN observed IS NULL THEN 'no value on the newest day'
            WHEN median_volume < $min_volume
                THEN printf('too small to judge: a median of %.4g cases a %s, %d needed', median_volume, dayname(day), $min_volume)
       END AS reason
FROM band
ORDER BY subject, measure"""

RULE_PARAMETERS = {"weeks": HISTORY_WEEKS, "min_history": MIN_HISTORY, "k": BAND_K, "mad_scale": MAD_SCALE,
                   "min_relative_width": MIN_RELATIVE_WIDTH, "min_volume": MIN_VOLUME}


@dataclasses.dataclass(frozen=True)
class Judged:
    """One series' newest day, judged."""
    subject: str  # kpi_id or export
    measure: str  # value | denominator | rows_loaded
    day: Any
    observed: float | None
    median: float | None
    mad: float | None
    lower: float | None
    upper: float | None
    history_count: int
    history: list  # [{day, value}] of the earlier same weekdays used
    verdict: str  # normal | anomaly | not_judged
    reason: str | None = None

    def shown(self) -> dict:
        def r(x):
            return None if x is None else round(x, 6)
        return {"subject": self.subject, "measure": self.measure, "day": str(self.day), "observed": r(self.observed),
                "lower": r(self.lower), "upper": r(self.upper), "median": r(self.median), "mad": r(self.mad),
                "history_count": self.history_count, "verdict": self.verdict,
                **({"reason": self.reason} if self.reason else {})}


def judge(con, series_sql: str) -> list[Judged]:
    """The rule over the series `series_sql` selects (subject, measure, day, observed)."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW anomaly_series AS {series_sql}")
    try:
        cur = con.execute(RULE_SQL, RULE_PARAMETERS)
        names = [d[0] for d in cur.description]
        return [Judged(**dict(zip(names, row))) for row in cur.fetchall()]
    finally:
        con.execute("DROP VIEW IF EXISTS anomaly_series")


def judge_kpis(con) -> list[Judged]:
    """Every day-grain KPI's value (and, for a ratio, its denominator); month-grain KPIs and those not
    computed are listed as not judged, with the reason."""
    from .exports.delivered import not_delivered
    from .kpis import kpi_catalog, kpis_not_computed
    from .settings import get_settings
    from .warehouse import has_table

    catalog = kpi_catalog()
    judged = judge(con, KPI_SERIES_SQL) if has_table(con, "marts.fct_kpi_daily") and has_table(con, "marts.dim_kpi") else []
    not_computed = kpis_not_computed(not_delivered(get_settings().exports_config), catalog)
    out = [dataclasses.replace(j, verdict="not_judged", reason=not_computed[j.subject]) if j.subject in not_computed else j
           for j in judged]
    seen = {j.subject for j in out}
    for kpi_id, kpi in catalog.items():
        if kpi_id in seen:
            continue
        reason = ("month grain: the weekday band does not apply" if kpi.get("grain", "day") == "month"
                  else not_computed.get(kpi_id, "no rows in marts.fct_kpi_daily"))
        out.append(Judged(kpi_id, "value", None, None, None, None, None, None, 0, [], "not_judged", reason))
    return out


def judge_exports(con, exports: tuple[Export, ...] = DAILY_EXPORTS) -> dict[str, Judged]:
    """Every daily export's rows loaded on its newest business date; export name -> judged."""
    from .warehouse import has_table

    judged = {j.subject: j for j in judge(con, EXPORT_SERIES_SQL)} if has_table(con, LOAD_LOG) else {}
    return {e.name: judged.get(e.name) or Judged(e.name, "rows_loaded", None, None, None, None, None, None, 0, [],
                                                 "not_judged", "no file with a business date loaded yet")
            for e in exports}


def evaluate(warehouse_path: Path) -> tuple[list[Judged], dict[str, Judged]]:
    """The KPIs' and the exports' verdicts, read from the warehouse (read-only)."""
    from .warehouse import connect

    if not Path(warehouse_path).exists():
        return judge_kpis_missing(), {e.name: Judged(e.name, "rows_loaded", None, None, None, None, None, None, 0, [],
                                                     "not_judged", "no warehouse yet") for e in DAILY_EXPORTS}
    with connect(warehouse_path, read_only=True) as con:
        return judge_kpis(con), judge_exports(con)


def judge_kpis_missing() -> list[Judged]:
    from .kpis import kpi_catalog

    return [Judged(k, "value", None, None, None, None, None, None, 0, [], "not_judged", "no warehouse yet")
            for k in kpi_catalog()]


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def describe_kpis(judged: list[Judged]) -> str:
    anomalies = [j for j in judged if j.verdict == "anomaly"]
    n_judged = sum(j.verdict != "not_judged" for j in judged)
    n_not = len(judged) - n_judged
    if anomalies:
        listed = "; ".join(f"{j.subject} {j.measure} {_fmt(j.observed)} on {j.day} outside [{_fmt(j.lower)}, {_fmt(j.upper)}]"
                           for j in anomalies[:10])
        return f"{len(anomalies)} anomalous of {n_judged} judged KPI series ({n_not} not judged): {listed}"
    if n_judged == 0:
        return f"not judged: none of the {n_not} KPI series has enough history (see not_judged)"
    return f"{n_judged} KPI series within their weekday band; {n_not} not judged (see not_judged)"


def describe_export(j: Judged) -> str:
    if j.verdict == "not_judged":
        return f"not judged: {j.reason}"
    where = "outside" if j.verdict == "anomaly" else "within"
    return (f"{j.subject}: {_fmt(j.observed)} rows loaded for {j.day} ({j.day:%A}), {where} "
            f"[{_fmt(j.lower)}, {_fmt(j.upper)}] (median of {j.history_count} earlier {j.day:%A}s {_fmt(j.median)})")


def export_result(j: Judged) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["raw", j.subject]), check_name=EXPORT_CHECK, passed=j.verdict != "anomaly",
        severity=dg.AssetCheckSeverity.WARN, description=describe_export(j),
        metadata={"verdict": j.verdict, "business_date": str(j.day), "observed": j.observed, "lower": j.lower,
                  "upper": j.upper, "median": j.median, "mad": j.mad, "history_count": j.history_count,
                  "history": dg.MetadataValue.json([{"day": str(h["day"]), "value": h["value"]} for h in j.history or []]),
                  **({"reason": j.reason} if j.reason else {})})


def kpi_result(judged: list[Judged]) -> dg.AssetCheckResult:
    anomalies = [j for j in judged if j.verdict == "anomaly"]
    not_judged = [j for j in judged if j.verdict == "not_judged"]
    return dg.AssetCheckResult(
        asset_key=KPI_KEY, check_name=KPI_CHECK, passed=not anomalies, severity=dg.AssetCheckSeverity.WARN,
        description=describe_kpis(judged),
        metadata={"anomalies": len(anomalies), "judged": len(judged) - len(not_judged), "not_judged_count": len(not_judged),
                  "anomalous": dg.MetadataValue.json([{**j.shown(), "history": [{"day": str(h["day"]), "value": h["value"]}
                                                                                 for h in j.history or []]}
                                                      for j in anomalies]),
                  "not_judged": dg.MetadataValue.json({f"{j.subject}:{j.measure}": j.reason for j in not_judged}),
                  "series": dg.MetadataValue.json([j.shown() for j in judged if j.verdict != "not_judged"]),
                  "rule": f"same weekday, last {HISTORY_WEEKS} weeks, min {MIN_HISTORY}, min volume {MIN_VOLUME}; "
                          f"median ± max({BAND_K} × {MAD_SCALE} × MAD, {MIN_RELATIVE_WIDTH} × |median|)"})


# --- alerts: one per new anomaly, to its owner -------------------------------------------------

def alert_id(j: Judged) -> str:
    """The same anomaly (series and day) has the same id: a re-run over the same day does not raise it again."""
    return f"{ALERT_KIND}:{j.subject}:{j.measure}:{j.day}"


def anomaly_alerts(kpis: list[Judged], exports: dict[str, Judged]):
    """One alert per anomaly, addressed to the owner:
    a KPI's catalogue owner; an export's owners as the Dagster asset raw/<export> has them (the SOP registry)."""
    from .alerts import Alert
    from .kpis import kpi_catalog

    catalog = kpi_catalog()
    export_owners = _export_owners()
    out = []
    for j in [*kpis, *exports.values()]:
        if j.verdict != "anomaly":
            continue
        is_kpi = j.measure != "rows_loaded"
        what = f"KPI {j.subject} {j.measure}" if is_kpi else f"export {j.subject} rows loaded"
        owner = catalog.get(j.subject, {}).get("owner") if is_kpi else ", ".join(export_owners.get(j.subject, []))
        out.append(Alert(
            kind=ALERT_KIND, severity="warning", alert_id=alert_id(j), owner=owner or None,
            title=f"{what} {_fmt(j.observed)} on {j.day} is outside its usual {_fmt(j.lower)}..{_fmt(j.upper)}",
            details={"subject": j.subject, "measure": j.measure, "date": str(j.day), "observed": j.observed,
                     "lower": j.lower, "upper": j.upper, "median": j.median,
                     "history": f"{j.history_count} earlier {j.day:%A}s in {HISTORY_WEEKS} weeks"}))
    return out


def _export_owners() -> dict[str, list[str]]:
    """export -> the owners the raw asset shows in Dagster (pipelines/definitions.py: the SOP registry's,
    else the data platform's)."""
    from .sop.checks import owners_by_asset
    from .transform import dbt_group_owner

    keys = [raw_asset_key(e) for e in DAILY_EXPORTS]
    owners = owners_by_asset(keys)
    return {e.name: owners.get(raw_asset_key(e)) or [dbt_group_owner("core")] for e in DAILY_EXPORTS}


def _raised_before(warehouse_path: Path, ids: list[str]) -> set[str]:
    from .ops_tables import ALERTS
    from .warehouse import connect, has_table

    if not ids or not Path(warehouse_path).exists():
        return set()
    with connect(warehouse_path, read_only=True) as con:
        if not has_table(con, ALERTS):
            return set()
        return {r[0] for r in con.execute(f"SELECT alert_id FROM {ALERTS} WHERE list_contains(?, alert_id)", [ids]).fetchall()}


# --- the Dagster checks ------------------------------------------------------------------------

_RULE_TEXT = (f"its newest business day against the same weekday of the {HISTORY_WEEKS} weeks before "
              f"(median ± max({BAND_K} × {MAD_SCALE} × MAD, {MIN_RELATIVE_WIDTH:.0%} of the median); "
              f"not judged with fewer than {MIN_HISTORY} earlier values or under {MIN_VOLUME} cases a day)")


@dg.multi_asset_check(
    name="anomaly_checks",
    specs=[dg.AssetCheckSpec(EXPORT_CHECK, asset=raw_asset_key(e),
                             description=f"Anomaly (WARN): the rows the export {e.name} loaded, {_RULE_TEXT}. "
                                         "Rule: pipelines/anomaly.py")
           for e in DAILY_EXPORTS]
          + [dg.AssetCheckSpec(KPI_CHECK, asset=KPI_KEY,
                               description=f"Anomaly (WARN): every KPI's value and denominator (segment 'all'), {_RULE_TEXT}. "
                                           "Rule: pipelines/anomaly.py")],
    can_subset=True,
    # A reader that writes its alerts: it takes the writers' lane, as the freshness checks do.
    pool=DUCKDB_WRITER_POOL,
)
def anomaly_checks(context: dg.AssetCheckExecutionContext):
    from .alerts import send_alert
    from .settings import get_settings

    wanted = set(context.selected_asset_check_keys)
    settings = get_settings()
    kpis, exports = evaluate(settings.warehouse_path)
    if dg.AssetCheckKey(KPI_KEY, KPI_CHECK) not in wanted:
        kpis = []
    exports = {name: j for name, j in exports.items() if dg.AssetCheckKey(raw_asset_key(BY_NAME[name]), EXPORT_CHECK) in wanted}
    candidates = anomaly_alerts(kpis, exports)
    already = _raised_before(settings.warehouse_path, [a.alert_id for a in candidates])
    for alert in candidates:
        if alert.alert_id not in already:
            send_alert(alert, settings)
    if kpis:
        yield kpi_result(kpis)
    for j in exports.values():
        yield export_result(j)
