"""Dagster asset checks generated from the SOP registry, and their results from the GX outcomes.

Data gates (severity block) are blocking checks: a failure skips the steps downstream of the
asset in the run (pipelines/sop/refresh.py). Process gates (severity warn) report with WARN severity and never block.
Owners of a check are in its metadata (Dagster checks carry no owners field); the assets the
SOPs name get the owners of those SOPs (`owners_by_asset`).
"""
from __future__ import annotations

import fnmatch
import functools
import json
import re
from pathlib import Path

import dagster as dg

from ..ops_tables import QUARANTINE
from .registry import GateTarget, Registry, Sop, load_suite, registry
from .gate_runner import GateOutcome

_ASSET_NAME = re.compile(r"^[a-z_]+(/[a-z0-9_*]+)+$")


def asset_key(asset: str) -> dg.AssetKey:
    return dg.AssetKey(asset.split("/"))


def check_asset_key(target: GateTarget) -> dg.AssetKey:
    """The asset a gate's Dagster check sits on: the registry's, except for an export's intake gate,
    which sits on the export's staging model (on `raw/*`, a failure would hold back the staging step
    that every domain shares; on the staging model it holds back what reads that export)."""
    if target.export:
        from ..exports import EXPORTS

        return dg.AssetKey(["staging", next(e.staging_model for e in EXPORTS if e.name == target.export)])
    return asset_key(target.asset)


def validated_asset(target: GateTarget) -> dg.AssetKey | None:
    """The asset of the view a gate validates when it is not the asset it sits on."""
    if target.export or target.gate.validates is None:
        return None
    schema, name = target.gate.validates.split(".")
    key = dg.AssetKey([schema, name])
    return None if key == asset_key(target.asset) else key


def check_spec(target: GateTarget, sop: Sop, reads: list[dg.AssetKey] = ()) -> dg.AssetCheckSpec:
    """`reads`: further assets the gate's input is built from; a failed data gate on one of them
    skips this check (Dagster's blocking), so a process gate never judges rows a data gate refused."""
    gate = target.gate
    kind = "Data gate (blocking)" if gate.is_data_gate else "Process gate (warn)"
    validated = validated_asset(target)
    deps = [*([validated] if validated else []), *(k for k in reads if k != validated)]
    return dg.AssetCheckSpec(
        name=gate.suite,
        asset=check_asset_key(target),
        blocking=gate.is_data_gate,
        additional_deps=deps or None,
        description=(
            f"{kind} of {sop.id} {sop.title}. {suite_rules(gate.suite_path)} GX suite `expectations/{gate.suite}.json`"
            + (f" on `{target.relation}`" if not target.export else f" on the intake query of raw.{target.export}")
            + f". Owner: {sop.owner.role} ({sop.owner.email})."
        ),
        metadata={
            "sop_id": sop.id,
            "sop_title": sop.title,
            "sop_version": sop.version,
            "gate_severity": gate.severity,
            "suite": f"expectations/{gate.suite}.json",
            "owner": f"{sop.owner.role} <{sop.owner.email}>",
            "owners": dg.MetadataValue.json(sop.owner.dagster_owners),
            "performers": ", ".join(sop.performers),
        },
    )


@functools.lru_cache(maxsize=64)
def suite_rules(path: Path) -> str:
    """What a suite checks, in the words of its notes: the suite's, then each expectation's id and notes."""
    suite = load_suite(path)
    rules = "; ".join(
        f"{e['meta']['id']}" + (f" ({e['meta']['notes'].rstrip('.')})" if e["meta"].get("notes") else "")
        for e in suite["expectations"]
    )
    return " ".join(filter(None, [suite.get("notes", ""), f"Rules: {rules}."]))


def owners_by_asset(keys: list[dg.AssetKey], reg: Registry | None = None) -> dict[dg.AssetKey, list[str]]:
    """Owners of every asset (of `keys`) an SOP names, from the registry: its SOPs' owners.

    An SOP names an asset when a gate sits on it or validates it, when it is an input or an
    output (an asset key, `*` matching any name: `landing/*`), or when it is the mart holding
    one of the SOP's indicators (the KPI catalogue says which).
    """
    from ..kpis import kpi_catalog

    reg = reg or registry()
    catalog = kpi_catalog()
    by_name = {k.to_user_string(): k for k in keys}
    owners: dict[dg.AssetKey, list[str]] = {}

    def add(pattern: str, sop: Sop) -> None:
        for name in fnmatch.filter(by_name, pattern) if "*" in pattern else [pattern]:
            key = by_name.get(name, asset_key(name))
            current = owners.setdefault(key, [])
            current.extend(n for n in sop.owner.dagster_owners if n not in current)

    for t in reg.targets():
        sop = reg.sop(t.gate.sop_id)
        add(t.asset, sop)
        validated = validated_asset(t)
        if validated:
            add(validated.to_user_string(), sop)
    for s in reg.sops:
        for name in (*s.inputs, *s.outputs):
            if _ASSET_NAME.match(name):  # outputs are mostly prose; only asset keys count
                add(name, s)
        for kpi_id in s.indicators:
            add(f"marts/{catalog[kpi_id]['mart']}", s)
    return owners


def gx_asset_keys(reg: Registry | None = None) -> set[dg.AssetKey]:
    """Assets a Great Expectations suite validates or sits on (shown with the GX kind in the UI): an
    intake gate sits on the staging model and validates the raw export."""
    reg = reg or registry()
    keys = {check_asset_key(t) for t in reg.targets()} | {asset_key(t.asset) for t in reg.targets() if t.export}
    return keys | {k for k in map(validated_asset, reg.targets()) if k}


def _plain(value):
    """JSON-safe (timestamps and decimals as text) for Dagster metadata."""
    return json.loads(json.dumps(value, default=str))


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def tolerance_text(e) -> str:
    """The share of rows an expectation may break before its gate fails (GX `mostly`)."""
    return f"tolerance {100 * (1 - e.mostly):.3g} % (mostly {e.mostly:g})" if e.mostly < 1 else "tolerance 0 (no mostly in its suite)"


def share_text(percent: float) -> str:
    """A share of rows with three significant digits: 2 of 4460 rows is 0.0448 %, not 0.0 %."""
    return f"{percent:.3g} %"


def breach(outcome: GateOutcome) -> str:
    """Why a gate failed in a few words: each failed expectation's share of rows against its tolerance."""
    if outcome.error:
        return f"could not read {outcome.target.relation[:80]}"
    return "; ".join(
        f"{e.expectation} could not run" if e.error or e.unexpected_percent is None else
        f"{e.expectation} {e.unexpected} of {e.rows_evaluated} rows ({share_text(e.unexpected_percent)}, {tolerance_text(e)})"
        for e in outcome.failed)


def summary(outcome: GateOutcome) -> str:
    """One line per failed expectation, naming rows, with the share and the tolerance, then one per
    expectation whose rows were quarantined below the tolerance: for the console and the check's description."""
    if outcome.error:
        return f"could not read {outcome.target.relation[:80]}: {outcome.error}"
    lines = []
    for e in outcome.failed:
        if e.error:
            lines.append(f"{e.expectation}: could not run ({e.error})")
            continue
        keys = "; ".join(", ".join(f"{k}={v}" for k, v in row.items() if k in outcome.target.keys and v is not None)
                         for row in e.unexpected_keys[:3])
        share = f" ({share_text(e.unexpected_percent)}, above its {tolerance_text(e)})" if e.unexpected_percent is not None else ""
        lines.append(f"{e.expectation}: {e.unexpected} of {e.rows_evaluated} rows{share}"
                     + (f", e.g. {keys}" if keys else (f", observed {_fmt(e.observed_value)[:120]}" if e.observed_value else "")))
    for e in outcome.quarantined:
        share = f" ({share_text(e.unexpected_percent)})" if e.unexpected_percent is not None else ""
        lines.append(f"{e.expectation}: {e.unexpected} of {e.rows_evaluated} rows{share}, within its {tolerance_text(e)}: "
                     f"quarantined, left out of the KPIs (see {QUARANTINE})")
    return "\n".join(lines)


def check_result(outcome: GateOutcome, sop: Sop) -> dg.AssetCheckResult:
    target = outcome.target
    records = [
        dg.TableRecord({
            "expectation": e.expectation,
            "passed": e.success,
            "column": e.column or "",
            "rows_evaluated": -1 if e.rows_evaluated is None else int(e.rows_evaluated),
            "unexpected": -1 if e.unexpected is None else int(e.unexpected),
            "unexpected_percent": -1.0 if e.unexpected_percent is None else round(float(e.unexpected_percent), 4),
            "observed_value": _fmt(e.observed_value)[:200],
            "unexpected_sample": (e.sample_json if (e.unexpected_values or e.unexpected_keys) else "")[:500],
            "error": e.error or "",
        })
        for e in outcome.expectations
    ]
    schema = dg.TableSchema(columns=[
        dg.TableColumn("expectation", "string"), dg.TableColumn("passed", "bool"), dg.TableColumn("column", "string"),
        dg.TableColumn("rows_evaluated", "int"), dg.TableColumn("unexpected", "int"),
        dg.TableColumn("unexpected_percent", "float"), dg.TableColumn("observed_value", "string"),
        dg.TableColumn("unexpected_sample", "string", description="JSON: offending values and the keys of their rows"),
        dg.TableColumn("error", "string"),
    ])
    metadata = {
        "sop_id": sop.id,
        "rows_evaluated": outcome.rows_in_window,
        "unexpected_rows": outcome.unexpected_rows,
        "expectations_failed": len(outcome.failed),
        "expectations": dg.MetadataValue.table(records, schema=schema),
        "window": f"rows loaded after {outcome.window_start or 'the beginning'} up to {outcome.window_end or '-'}",
        "validated": (target.relation if not target.export else f"intake query of raw.{target.export}"),
        "owner": f"{sop.owner.role} <{sop.owner.email}>",
        "seconds": round(outcome.seconds, 3),
    }
    if outcome.quarantined:
        metadata["quarantined_rows"] = outcome.quarantined_rows
        metadata["quarantine"] = dg.MetadataValue.md(
            f"`{QUARANTINE}` (suite = '{target.gate.suite}', asset = '{target.asset}'): rows below the tolerance, "
            "left out of the KPIs")
    for e in outcome.failed:  # flat, plottable numbers for the failing expectations
        metadata[f"{e.expectation}/unexpected"] = -1 if e.unexpected is None else int(e.unexpected)
        if e.unexpected_percent is not None:
            metadata[f"{e.expectation}/unexpected_percent"] = round(float(e.unexpected_percent), 4)
        if e.unexpected_keys:
            metadata[f"{e.expectation}/unexpected_rows_sample"] = dg.MetadataValue.json(_plain(e.unexpected_keys))
        elif e.unexpected_values:
            metadata[f"{e.expectation}/unexpected_values_sample"] = dg.MetadataValue.json([str(v) for v in e.unexpected_values])
    text = summary(outcome)
    if text:
        metadata["summary"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in text.splitlines()))
    return dg.AssetCheckResult(
        asset_key=check_asset_key(target),
        check_name=target.gate.suite,
        passed=outcome.passed,
        # a data gate passing with quarantined rows warns: the run goes on without them
        severity=(dg.AssetCheckSeverity.ERROR if target.gate.is_data_gate and not outcome.quarantined
                  else dg.AssetCheckSeverity.WARN),
        metadata=metadata,
        description=text or None,
    )
