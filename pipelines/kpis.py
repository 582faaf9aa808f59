"""KPI values as Dagster metadata, and the KPI catalogue as Python reads it.

The catalogue is declared once, in `dbt_project/dbt_project.yml` (vars `kpi_catalog`,
`kpi_marts`, `kpi_goals`): dbt builds `marts.dim_kpi` and `marts.fct_kpi_daily` from it and
renders it into the docs; Python reads the same YAML here (no second list of KPIs).

`kpi_metadata(con, asset_key)` gives the latest value of every KPI a mart holds, as floats
keyed by kpi_id, so the Dagster UI plots each KPI run over run. `with_kpi_metadata` attaches
them to the dbt asset's events: DuckDB lets no one read the warehouse while dbt writes it, so
the events of KPI marts are held back until the dbt process has exited, then enriched and
yielded (every other event streams through at once).
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from .settings import DBT_PROJECT_DIR
from .warehouse import has_table

log = logging.getLogger(__name__)

LONG_TABLE = "fct_kpi_daily"
# The long table's week and month roll-ups (models kpi_weekly, kpi_monthly): no KPI metadata of their own.
PERIOD_TABLES = ("kpi_weekly", "kpi_monthly")
STATUS_VALUES = ("on_target", "at_risk", "off_target")
# The status as every reader shows it: console, dashboard, BI app (the console shouts the two bad ones).
STATUS_LABEL = {"on_target": "on target", "at_risk": "at risk", "off_target": "off target"}


# --- the catalogue ------------------------------------------------------------------------

def _project_vars(project_file: Path) -> Mapping[str, Any]:
    # keyed on the file's mtime too: `kpi contracts` run after an edit of the declaration reads the edit
    return _read_vars(Path(project_file), Path(project_file).stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_vars(project_file: Path, mtime_ns: int) -> Mapping[str, Any]:
    return yaml.safe_load(project_file.read_text())["vars"]


def kpi_catalog(project_file: Path = DBT_PROJECT_DIR / "dbt_project.yml") -> dict[str, dict[str, Any]]:
    """kpi_id -> its declaration (name, domain, mart, goal, owner, unit, direction, rollup, ...)."""
    return dict(_project_vars(project_file)["kpi_catalog"])


def kpis_not_computed(not_delivered: Iterable[str], catalog: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    """kpi_id -> why it is not computed, for every KPI that needs an export the business does not
    deliver (`needs:` in the catalogue; config/exports.yml): such a KPI is not shown as a value."""
    catalog = kpi_catalog() if catalog is None else catalog
    missing = set(not_delivered)
    out = {}
    for kpi_id, kpi in catalog.items():
        lacking = [e for e in kpi.get("needs") or () if e in missing]
        if lacking:
            out[kpi_id] = f"not computed: needs {', '.join(lacking)} (not delivered)"
    return out


def kpis_of_mart(mart: str, catalog: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    catalog = kpi_catalog() if catalog is None else catalog
    return [kpi_id for kpi_id, kpi in catalog.items() if kpi["mart"] == mart]


def kpi_marts(catalog: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The marts that hold KPI components, plus the long table."""
    catalog = kpi_catalog() if catalog is None else catalog
    return sorted({kpi["mart"] for kpi in catalog.values()}) + [LONG_TABLE]


# --- the status and rollup rules: the dbt macros, rendered for the SQL Python runs itself ---------

class _Dispatch:
    """dbt's `adapter.dispatch` as the duckdb adapter resolves it (duckdb__<name>, else default__<name>)."""

    def __init__(self):
        self.modules: list = []

    def dispatch(self, name: str, macro_namespace: str | None = None):
        for module in self.modules:
            for prefix in ("duckdb__", "default__"):
                if hasattr(module, prefix + name):
                    return getattr(module, prefix + name)
        raise LookupError(f"no duckdb__ or default__ form of macro {name}")


@functools.lru_cache(maxsize=1)
def _kpi_macros():
    """dbt_project/macros/kpis.sql as a jinja2 module (dbt's own template engine), with the DuckDB forms of
    the cross-database macros it calls: the status rule (kpi_status, KPI_CATALOG.md rule 7) and the rollup
    rule (kpi_value) are written once, as dbt macros; Python renders them into the SQL it runs itself."""
    import jinja2

    dispatch = _Dispatch()
    env = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)
    # dbt's return() ends a macro with a value; the macros rendered here return text, which is their output
    env.globals.update(adapter=dispatch, **{"return": lambda value: value})
    portable = env.from_string((DBT_PROJECT_DIR / "macros" / "portable_sql.sql").read_text()).module
    dispatch.modules.append(portable)
    env.globals.update(safe_divide=portable.safe_divide, type_double=portable.type_double)
    return env.from_string((DBT_PROJECT_DIR / "macros" / "kpis.sql").read_text()).module


def status_sql(value: str, target: str, direction: str, warning_band: str) -> str:
    """The SQL of the status (dbt macro kpi_status) over four SQL expressions."""
    return str(_kpi_macros().kpi_status(value, target, direction, warning_band)).strip()


def value_sql(rollup: str, numerator: str, denominator: str) -> str:
    """The SQL of a KPI's value from its components (dbt macro kpi_value: ratio → numerator / denominator,
    NULL when it is 0; sum → the numerator) over three SQL expressions."""
    return str(_kpi_macros().kpi_value(rollup, numerator, denominator)).strip()


# --- metadata -------------------------------------------------------------------------------

def kpi_metadata(con, asset_key) -> dict[str, float]:
    """Latest value of every KPI of a mart asset, keyed by kpi_id (KPIs without a value are left out).

    `asset_key`: a Dagster AssetKey, a path list or the table name (marts/<table>). For a domain
    mart the value is re-computed from its components on its newest kpi_date (the first day of
    the newest month for month-grain KPIs), summed over all segments; for fct_kpi_daily it is the
    'all' row of each KPI's newest date. Any other asset gives {}.
    """
    path = getattr(asset_key, "path", asset_key)
    table = path if isinstance(path, str) else list(path)[-1]
    catalog = kpi_catalog()
    if table == LONG_TABLE:
        if not has_table(con, f"marts.{table}"):
            return {}
        rows = con.execute(
            """SELECT kpi_id, value FROM marts.fct_kpi_daily
               WHERE segment_type = 'all'
               QUALIFY row_number() OVER (PARTITION BY kpi_id ORDER BY kpi_date DESC) = 1"""
        ).fetchall()
        return {kpi_id: float(value) for kpi_id, value in rows if value is not None and kpi_id in catalog}
    kpis = kpis_of_mart(table, catalog)
    if not kpis or not has_table(con, f"marts.{table}"):
        return {}
    values: dict[str, float] = {}
    for grain in ("day", "month"):
        ids = [k for k in kpis if catalog[k].get("grain", "day") == grain]
        if not ids:
            continue
        where = "" if grain == "day" else "WHERE kpi_date = date_trunc('month', kpi_date)"
        # Column names and rollups come from the catalogue (validated identifiers), not from user input.
        sums = ", ".join(value_sql(f"'{catalog[k]['rollup']}'", f"sum({k}_numerator)", f"sum({k}_denominator)") for k in ids)
        row = con.execute(
            f"SELECT {sums} FROM marts.{table} WHERE kpi_date = (SELECT max(kpi_date) FROM marts.{table} {where})"
        ).fetchone()
        for kpi_id, value in zip(ids, row):
            if value is not None:
                values[kpi_id] = float(value)
    return values


def _asset_key_of(event, context) -> Any:
    key = getattr(event, "asset_key", None)
    if key is None and context is not None and getattr(event, "output_name", None):
        try:
            key = context.asset_key_for_output(event.output_name)
        except Exception:  # an output that is no asset
            return None
    return key


def with_kpi_metadata(events: Iterable, context=None, warehouse_path: Path | None = None) -> Iterator:
    """Yield the dbt asset's events; those of KPI marts (and their checks) after dbt exits, with KPI values as metadata.

    Usage in the dbt asset: `yield from with_kpi_metadata(dbt.cli([...], context=context).stream(), context)`.
    Metadata is best effort: if the warehouse cannot be read, the events go out unchanged.
    """
    # The roll-ups too: downstream of the long table, their events must not overtake its held ones
    # (Dagster wants a step's assets in dependency order).
    marts = set(kpi_marts()) | set(PERIOD_TABLES)
    held: list = []
    failure: BaseException | None = None
    try:
        for event in events:
            key = _asset_key_of(event, context)
            if key is not None and key.path[-1] in marts:
                held.append((key, event))
            else:
                yield event
    except Exception as exc:  # dbt failed: still report what it built, then fail
        failure = exc
    if held:
        yield from _enriched(held, warehouse_path)
    if failure is not None:
        raise failure


def _enriched(held: list, warehouse_path: Path | None) -> list:
    """The held events with KPI metadata; the warehouse is read, and closed again, before any is yielded."""
    from .settings import get_settings
    from .warehouse import connect

    path = warehouse_path or get_settings().warehouse_path
    try:
        con = connect(path, read_only=True, wait_seconds=10)
    except Exception as exc:
        log.warning("KPI metadata skipped: cannot read %s (%s)", path, exc)
        return [event for _, event in held]
    events = []
    try:
        for key, event in held:
            if hasattr(event, "with_metadata") and not _is_check(event):
                try:
                    values = kpi_metadata(con, key)
                except Exception as exc:
                    log.warning("KPI metadata for %s skipped: %s", key, exc)
                    values = {}
                if values:
                    event = event.with_metadata({**(event.metadata or {}), **_shown(values)})
            events.append(event)
    finally:
        con.close()
    return events


def _shown(values: dict[str, float]) -> dict[str, float]:
    """KPI values as the UI shows and plots them: a rate to 4 decimals (0.0285, not 0.02849336455893833),
    any other unit to 2."""
    catalog = kpi_catalog()
    return {k: round(v, 4 if catalog.get(k, {}).get("unit") == "rate" else 2) for k, v in values.items()}


def _is_check(event) -> bool:
    return type(event).__name__ in ("AssetCheckResult", "AssetCheckEvaluation")


# --- the catalogue page (docs/kpi_catalog.md, written by `kpi contracts`) ----------------------

KPI_CATALOG_PAGE = DBT_PROJECT_DIR.parent / "docs" / "kpi_catalog.md"
_DECISION_LOG = DBT_PROJECT_DIR / "models" / "marts" / "core" / "_kpi_docs.md"
# The sections the marts' descriptions name ("docs/kpi_catalog.md, \"Shipping and logistics\"").
_DOMAIN_HEADINGS = {"marketing": "Advertising and marketing", "logistics": "Shipping and logistics", "sop": "SOP compliance"}


def kpi_catalog_markdown(project_file: Path = DBT_PROJECT_DIR / "dbt_project.yml") -> str:
    """The KPI catalogue as a page: every declaration of `vars.kpi_catalog`, the goals, the targets of the
    seed `kpi_targets_business` and the declarations' demo targets, and the dbt docs block `kpi_decision_log` (how to read a KPI, every definition choice).

    Generated from those files only, so the page cannot disagree with what dbt builds.
    """
    import csv
    import re

    pvars = _project_vars(project_file)
    catalog, goals = pvars["kpi_catalog"], pvars["kpi_goals"]
    def read_targets(name: str) -> dict[str, dict]:
        with open(project_file.parent / "seeds" / name, newline="") as f:
            return {row["kpi_id"]: row for row in csv.DictReader(f)}

    targets = read_targets("kpi_targets_business.csv")
    m = re.search(r"\{% docs kpi_decision_log %\}(.*?)\{% enddocs %\}", _DECISION_LOG.read_text(), re.S)
    decision_log = m.group(1).strip() if m else ""

    def cell(text: Any) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    out = [
        "# KPI catalogue",
        "",
        "<!-- Generated by `kpi contracts` from dbt_project/dbt_project.yml (vars kpi_catalog, kpi_goals),",
        "     dbt_project/seeds/kpi_targets_business.csv and the docs block kpi_decision_log",
        "     (dbt_project/models/marts/core/_kpi_docs.md). Edit those, not this page. -->",
        "",
        f"{len(catalog)} KPIs, each a column pair `<kpi_id>_numerator` / `<kpi_id>_denominator` of its mart and",
        "rows of the long table `marts.fct_kpi_daily` (one row per `kpi_id` × business date × segment:",
        "`kpi_id, domain, kpi_date, segment_type, segment, numerator, denominator, value, unit, target, status`;",
        "`segment_type = 'all'` rows are the whole-business rollup). The same declarations are in the",
        "warehouse as `marts.dim_kpi` and on every mart column of the dbt docs (`make docs`).",
        "",
        decision_log,
        "",
        "## Goals",
        "",
        "| goal | what it means |",
        "|---|---|",
        *(f"| `{g}` | {cell(text)} |" for g, text in goals.items()),
        "",
        "Per KPI below: **target** from the seed `dbt_project/seeds/kpi_targets_business.csv` (the business",
        "edits it; it ships with no targets, so every KPI shows \"no target\" until the business sets one; status",
        "as in the decision log; **warning band**: the declared one unless the seed's row sets its own) and, beside",
        "it, the demo's target (`demo_target` of the declaration, used by `kpi demo`, `KPI_TARGETS=demo`);",
        "**rollup** `ratio`: `sum(numerator) / sum(denominator)`, `sum`: `sum(numerator)` (denominator NULL).",
        "",
    ]
    for domain in dict.fromkeys(k["domain"] for k in catalog.values()):
        out += [f"## {_DOMAIN_HEADINGS.get(domain, domain.replace('_', ' ').capitalize())}", ""]
        for kpi_id, k in catalog.items():
            if k["domain"] != domain:
                continue
            t = targets.get(kpi_id) or {}
            band = t.get("warning_band") or k["warning_band"]
            target = (f"{t.get('target') or 'none set'} (warning band {band})"
                      + (f"; demo: {k['demo_target']}" if k.get("demo_target") is not None else ""))
            out += [
                f"### `{kpi_id}`: {k['name']}",
                "",
                cell(k["definition"]),
                "",
                "| | |",
                "|---|---|",
                f"| mart | `marts.{k['mart']}` |",
                f"| unit | {k['unit']} |",
                f"| direction | {k['direction'].replace('_', ' ')} |",
                f"| rollup | {k['rollup']} |",
                f"| numerator | {cell(k['numerator']['doc'])} (`{cell(k['numerator']['sql'])}`) |",
                f"| denominator | {cell(k['denominator']['doc'])} (`{cell(k['denominator']['sql'])}`) |"
                if k["rollup"] == "ratio" else "| denominator | none (rollup sum) |",
                f"| grain | {k.get('grain', 'day')} |",
                f"| date basis | {cell(k['date_basis'])} |",
                f"| goal | `{k['goal']}`: {cell(goals.get(k['goal'], ''))} |",
                f"| owner | {cell(k['owner'])} |",
                f"| target | {target} |",
                "",
            ]
    return "\n".join(out).rstrip() + "\n"


# --- the marts' KPI columns in their yml (written by `kpi contracts`) ----------------------------

# The markers of the block each mart's yml holds its generated KPI columns between.
MART_COLUMNS_BEGIN = "      # >>> generated by `kpi contracts` from dbt_project.yml var kpi_catalog: the KPI columns (do not edit)"
MART_COLUMNS_END = "      # <<< end of the generated KPI columns"
# The value column's unit, as its description says it (amounts: the base currency, var base_currency).
_UNIT_PHRASE = {"rate": "a share, 0..1", "amount": "base currency", "count": "a count", "units": "units",
                "minutes": "minutes", "hours": "hours", "seconds": "seconds", "days": "days", "score": "score"}


def mart_kpi_columns_yaml(mart: str, catalog: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The yml column entries of `mart`'s KPI columns (macro kpi_columns writes them in the SQL): names and
    contract types from the declaration; descriptions render the declaration (`var('kpi_catalog')`), so a
    definition edited in dbt_project.yml needs no regeneration."""
    lines = []
    for kpi_id in kpis_of_mart(mart, catalog):
        k = catalog[kpi_id]
        ref = f"var('kpi_catalog').{kpi_id}"
        num_type = k["numerator"]["type"]
        if k["rollup"] == "sum":
            den_type, den_doc = "bigint", f"Always NULL: {k['name']} is a sum (rollup sum), not a ratio."
            value_type, value_unit = num_type, f"{_UNIT_PHRASE[k['unit']]}; equals the numerator"
        else:
            den_type, den_doc = k["denominator"]["type"], f"{{{{ {ref}.denominator.doc }}}}"
            value_type, value_unit = "double", _UNIT_PHRASE[k["unit"]]
        for name, data_type, doc in (
            (f"{kpi_id}_numerator", num_type, f"{{{{ {ref}.numerator.doc }}}}"),
            (f"{kpi_id}_denominator", den_type, den_doc),
            (kpi_id, value_type, f"{{{{ {ref}.name }}}} ({value_unit}). {{{{ {ref}.definition }}}}"),
        ):
            lines += [f"      - name: {name}", f"        data_type: {data_type}", f'        description: "{doc}"']
    return lines


def mart_docs_files(project_dir: Path = DBT_PROJECT_DIR) -> dict[Path, str]:
    """Every mart yml that holds the generated block, with the block regenerated from the declaration
    (`kpi contracts` writes them; tests/unit/test_contracts.py fails while one is stale)."""
    catalog = kpi_catalog(project_dir / "dbt_project.yml")
    files = {}
    for path in sorted((project_dir / "models" / "marts").rglob("*.yml")):
        text = path.read_text()
        if MART_COLUMNS_BEGIN not in text:
            continue
        models = [m["name"] for m in yaml.safe_load(text).get("models") or []]
        out, lines, i = [], text.split("\n"), 0
        model = None
        while i < len(lines):
            line = lines[i]
            if line.startswith("  - name: "):
                model = line.split(":", 1)[1].strip()
            out.append(line)
            if line == MART_COLUMNS_BEGIN:
                if model not in models or model not in {k["mart"] for k in catalog.values()}:
                    raise ValueError(f"{path}: a generated KPI-column block in {model!r}, which is no mart of var kpi_marts with KPIs")
                out += mart_kpi_columns_yaml(model, catalog)
                while lines[i] != MART_COLUMNS_END:
                    i += 1
                out.append(MART_COLUMNS_END)
            i += 1
        files[path] = "\n".join(out)
    marts_with_block = {m for p, t in files.items() for m in _block_models(t)}
    missing = {k["mart"] for k in catalog.values()} - marts_with_block
    if missing:
        raise ValueError(f"no generated KPI-column block ({MART_COLUMNS_BEGIN.strip()}) in the yml of {sorted(missing)}")
    return files


def _block_models(text: str) -> list[str]:
    model, out = None, []
    for line in text.split("\n"):
        if line.startswith("  - name: "):
            model = line.split(":", 1)[1].strip()
        elif line == MART_COLUMNS_BEGIN:
            out.append(model)
    return out
