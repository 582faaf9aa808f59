"""The SOP registry (expectations/sops.yml) and its gates, loaded and validated.

One SOP = the six properties of a procedure (goal, owner and performers, trigger, inputs and
outputs, steps, indicators) + a version and a review date + its gates. One gate = one Great
Expectations suite (expectations/<suite>.json) run against one relation for one Dagster asset.
Everything else (Dagster checks, the GX runner, the SOP pages) is generated from this.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from ..exports import EXPORTS
from ..settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
REGISTRY_PATH = EXPECTATIONS_DIR / "sops.yml"
SEVERITIES = ("block", "warn")
EXPORT_INTAKE = "export_intake"  # `validates:` of the per-export intake gate (query from the contract)
DEFAULT_REVIEW_DAYS = 180
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SOP_ID = re.compile(r"^SOP-[A-Z]+-\d{2}$")
_RELATION = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
SQL_ONLY_TYPES_UNSUPPORTED = frozenset({
    # GX cannot run these as SQL on DuckDB: they take the pandas path.
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_match_regex_list",
    "expect_column_values_to_not_match_regex_list",
})


class RegistryError(ValueError):
    """The registry or a suite is not as documented at the top of sops.yml."""


@dataclass(frozen=True)
class Owner:
    role: str
    email: str
    team: str

    @property
    def dagster_owners(self) -> list[str]:
        """Dagster accepts emails and `team:` names as owners."""
        return [self.email, f"team:{self.team}"]


@dataclass(frozen=True)
class Step:
    name: str
    action: str
    exceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gate:
    sop_id: str
    suite: str
    severity: str  # block | warn
    asset: str  # "layer/name", may contain {export}
    validates: str | None
    keys: tuple[str, ...]
    window: str | None  # lineage column limiting a run to the rows it loaded; None = every row

    @property
    def is_data_gate(self) -> bool:
        return self.severity == "block"

    @property
    def suite_path(self) -> Path:
        return EXPECTATIONS_DIR / f"{self.suite}.json"

    @property
    def per_export(self) -> bool:
        return "{export}" in self.asset

    @property
    def tolerance(self) -> float:
        """The smallest share of rows an expectation of the suite must pass (GX `mostly`; 1.0 without)."""
        return min(mostly(e) for e in load_suite(self.suite_path)["expectations"])

    @property
    def quarantines(self) -> bool:
        """A data gate with a tolerance: rows it lets through below it are quarantined, not built on."""
        return self.is_data_gate and self.tolerance < 1.0


@dataclass(frozen=True)
class Sop:
    id: str
    title: str
    version: str
    last_reviewed: dt.date
    goal: str
    owner: Owner
    performers: tuple[str, ...]
    trigger: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    steps: tuple[Step, ...]
    indicators: tuple[str, ...]
    gates: tuple[Gate, ...]

    def review_due(self, interval_days: int) -> dt.date:
        return self.last_reviewed + dt.timedelta(days=interval_days)

    def is_review_overdue(self, interval_days: int, today: dt.date | None = None) -> bool:
        return (today or dt.date.today()) > self.review_due(interval_days)

    @property
    def slug(self) -> str:
        return self.id.lower().replace("-", "_")


@dataclass(frozen=True)
class GateTarget:
    """One evaluation: a gate's suite against one relation, reported on one Dagster asset."""

    gate: Gate
    asset: str  # "layer/name"
    relation: str  # schema.table, or "(<select ...>)" for generated queries
    keys: tuple[str, ...]
    export: str | None = None  # set for per-export gates
    parameters: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def check_name(self) -> str:
        return self.gate.suite

    @property
    def label(self) -> str:
        return f"{self.asset}:{self.gate.suite}"


@dataclass(frozen=True)
class Registry:
    sops: tuple[Sop, ...]
    review_interval_days: int
    path: Path

    def sop(self, sop_id: str) -> Sop:
        for s in self.sops:
            if s.id == sop_id:
                return s
        raise KeyError(f"{self.path}: no SOP {sop_id!r}")

    @property
    def gates(self) -> list[Gate]:
        return [g for s in self.sops for g in s.gates]

    def targets(self) -> list[GateTarget]:
        from .intake import intake_target  # generated per export from the contracts

        out: list[GateTarget] = []
        for g in self.gates:
            if g.per_export:
                out.extend(intake_target(g, e) for e in EXPORTS)
            else:
                out.append(GateTarget(gate=g, asset=g.asset, relation=g.validates or relation_of_asset(g.asset), keys=g.keys))
        return out

    def overdue(self, today: dt.date | None = None) -> list[Sop]:
        return [s for s in self.sops if s.is_review_overdue(self.review_interval_days, today)]


def relation_of_asset(asset: str) -> str:
    """raw/tickets -> raw.tickets, staging/stg_x -> staging.stg_x, sop/sop_x -> sop.sop_x."""
    layer, _, name = asset.partition("/")
    return f"{layer}.{name}"


def _req(d: dict, key: str, where: str):
    if d.get(key) in (None, "", []):
        raise RegistryError(f"{where}: `{key}` is missing")
    return d[key]


def _text(d: dict, key: str, where: str) -> str:
    v = _req(d, key, where)
    if not isinstance(v, str) or not v.strip():
        raise RegistryError(f"{where}: `{key}` must be a non-empty text, got {v!r}")
    return " ".join(v.split())


def _texts(d: dict, key: str, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    v = d.get(key)
    if v is None or (v == [] and not allow_empty):
        raise RegistryError(f"{where}: `{key}` must list at least one item")
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise RegistryError(f"{where}: `{key}` must be a list of texts, got {v!r}")
    return tuple(" ".join(x.split()) for x in v)


def mostly(expectation: dict) -> float:
    """GX's `mostly` of one expectation of a suite: the share of rows that must pass (1.0 when absent)."""
    return float(expectation.get("kwargs", {}).get("mostly", 1.0))


def load_suite(path: Path) -> dict:
    """A GX 1.x suite as JSON, with the fields this project relies on checked."""
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        raise RegistryError(f"{path}: suite file not found") from None
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    if suite.get("name") != path.stem:
        raise RegistryError(f"{path}: `name` must be {path.stem!r} (the file name), got {suite.get('name')!r}")
    exps = suite.get("expectations")
    if not isinstance(exps, list) or not exps:
        raise RegistryError(f"{path}: `expectations` must list at least one expectation")
    seen = set()
    for i, e in enumerate(exps):
        where = f"{path}, expectation {i + 1}"
        if not isinstance(e, dict) or not str(e.get("type", "")).startswith("expect_"):
            raise RegistryError(f"{where}: `type` must name a GX expectation (expect_...), got {e.get('type')!r}")
        eid = (e.get("meta") or {}).get("id")
        if not isinstance(eid, str) or not _NAME.match(eid):
            raise RegistryError(f"{where} ({e['type']}): `meta.id` must be a lower_snake_case id, got {eid!r}")
        if eid in seen:
            raise RegistryError(f"{where}: `meta.id` {eid!r} appears twice in the suite")
        share = (e.get("kwargs") or {}).get("mostly", 1.0)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise RegistryError(f"{where} ({eid}): `mostly` must be a share of rows in (0, 1], got {share!r}")
        seen.add(eid)
    return suite


def _gate(sop_id: str, raw: dict, where: str) -> Gate:
    suite = _text(raw, "suite", where)
    severity = _text(raw, "severity", where)
    if severity not in SEVERITIES:
        raise RegistryError(f"{where}: `severity` must be one of {SEVERITIES}, got {severity!r}")
    asset = _text(raw, "asset", where)
    if not re.match(r"^(raw|staging|intermediate|marts|sop)/([a-z_][a-z0-9_]*|\{export\})$", asset):
        raise RegistryError(f"{where}: `asset` must be <layer>/<name> (raw, staging, intermediate, marts, sop), got {asset!r}")
    validates = raw.get("validates")
    if "{export}" in asset:
        if validates != EXPORT_INTAKE:
            raise RegistryError(f"{where}: an asset with {{export}} needs `validates: {EXPORT_INTAKE}`")
    elif validates is not None and not _RELATION.match(str(validates)):
        raise RegistryError(f"{where}: `validates` must be <schema>.<relation>, got {validates!r}")
    keys = raw.get("keys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise RegistryError(f"{where}: `keys` must be a list of column names")
    window = raw.get("window", "_loaded_at")
    window = None if window in (None, "none") else str(window)
    gate = Gate(sop_id=sop_id, suite=suite, severity=severity, asset=asset, validates=validates,
                keys=tuple(keys), window=window)
    load_suite(gate.suite_path)
    return gate


def _sop(raw: dict, i: int, path: Path) -> Sop:
    where = f"{path}, SOP #{i + 1}"
    sop_id = _text(raw, "id", where)
    if not _SOP_ID.match(sop_id):
        raise RegistryError(f"{where}: `id` must look like SOP-XX-01, got {sop_id!r}")
    where = f"{path}, {sop_id}"
    owner_raw = _req(raw, "owner", where)
    if not isinstance(owner_raw, dict):
        raise RegistryError(f"{where}: `owner` must have role, email and team")
    owner = Owner(role=_text(owner_raw, "role", f"{where}.owner"), email=_text(owner_raw, "email", f"{where}.owner"),
                  team=_text(owner_raw, "team", f"{where}.owner"))
    if not _EMAIL.match(owner.email):
        raise RegistryError(f"{where}.owner: `email` must be an e-mail address (Dagster owners), got {owner.email!r}")
    if not _NAME.match(owner.team):
        raise RegistryError(f"{where}.owner: `team` must be lower_snake_case (Dagster `team:` owner), got {owner.team!r}")
    reviewed = raw.get("last_reviewed")
    if isinstance(reviewed, str):
        try:
            reviewed = dt.date.fromisoformat(reviewed)
        except ValueError:
            reviewed = None
    if not isinstance(reviewed, dt.date):
        raise RegistryError(f"{where}: `last_reviewed` must be a date YYYY-MM-DD, got {raw.get('last_reviewed')!r}")
    version = raw.get("version")
    if not isinstance(version, str) or not re.match(r"^\d+(\.\d+)*$", version):
        raise RegistryError(f"{where}: `version` must be a quoted version like \"1.2\", got {version!r}")
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise RegistryError(f"{where}: `steps` must list the procedure's steps in order")
    steps = tuple(
        Step(name=_text(s, "name", f"{where}, step {j + 1}"), action=_text(s, "action", f"{where}, step {j + 1}"),
             exceptions=_texts(s, "exceptions", f"{where}, step {j + 1}") if s.get("exceptions") else ())
        for j, s in enumerate(steps_raw)
    )
    gates_raw = raw.get("gates")
    if not isinstance(gates_raw, list) or not gates_raw:
        raise RegistryError(f"{where}: `gates` must list at least one gate")
    gates = tuple(_gate(sop_id, g, f"{where}, gate {j + 1}") for j, g in enumerate(gates_raw))
    return Sop(
        id=sop_id, title=_text(raw, "title", where), version=version, last_reviewed=reviewed,
        goal=_text(raw, "goal", where), owner=owner, performers=_texts(raw, "performers", where),
        trigger=_text(raw, "trigger", where), inputs=_texts(raw, "inputs", where), outputs=_texts(raw, "outputs", where),
        steps=steps, indicators=_texts(raw, "indicators", where, allow_empty=True), gates=gates,
    )


def load_registry(path: Path = REGISTRY_PATH) -> Registry:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("sops"), list):
        raise RegistryError(f"{path}: expected a mapping with a `sops` list")
    interval = raw.get("review_interval_days", DEFAULT_REVIEW_DAYS)
    if not isinstance(interval, int) or interval <= 0:
        raise RegistryError(f"{path}: `review_interval_days` must be a positive number of days, got {interval!r}")
    sops = tuple(_sop(s, i, Path(path)) for i, s in enumerate(raw["sops"]))
    ids = [s.id for s in sops]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise RegistryError(f"{path}: SOP ids appear more than once: {', '.join(dupes)}")
    checks = [(g.asset, g.suite) for s in sops for g in s.gates]
    dupes = sorted({f"{a}:{n}" for a, n in checks if checks.count((a, n)) > 1})
    if dupes:
        raise RegistryError(f"{path}: a suite is used twice on the same asset: {', '.join(dupes)}")
    keys_by_asset: dict[str, set[tuple[str, ...]]] = {}
    for g in (g for s in sops for g in s.gates if g.quarantines):
        keys_by_asset.setdefault(g.asset, set()).add(g.keys)
        if not g.keys:
            raise RegistryError(f"{path}, {g.sop_id}, gate {g.suite}: a data gate with a tolerance (mostly < 1) needs "
                                "`keys`: they name the rows it quarantines")
    differing = sorted(a for a, k in keys_by_asset.items() if len(k) > 1)
    if differing:
        raise RegistryError(f"{path}: the data gates with a tolerance on {', '.join(differing)} list different `keys`; "
                            "the models reading that asset leave quarantined rows out by one key: list the same keys")
    return Registry(sops=sops, review_interval_days=interval, path=Path(path))


@lru_cache(maxsize=4)
def registry(path: Path = REGISTRY_PATH) -> Registry:
    """The registry, loaded once per process (Dagster definitions and the runner share it)."""
    return load_registry(path)
