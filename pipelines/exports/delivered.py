"""Which exports the business delivers: config/exports.yml (KPI_EXPORTS_CONFIG), default all.

An export not delivered is "not in use": its freshness check passes as such, and the KPIs that
need it are reported as not computed (pipelines/report.py, the dashboard). Errors name the file
and the unknown system or export.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from . import BY_NAME, SYSTEMS


def delivered_exports(path: Path) -> frozenset[str]:
    """Names of the exports delivered, per the config file at `path` (missing file: all)."""
    if not Path(path).exists():
        return frozenset(BY_NAME)
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or "delivered" not in doc:
        raise ValueError(f"{path}: expected a key `delivered:` (`all`, or a mapping system -> `all` or a list of exports)")
    spec = doc["delivered"]
    if spec == "all":
        return frozenset(BY_NAME)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: `delivered:` must be `all` or a mapping system -> `all` or a list of exports, got {spec!r}")
    names: set[str] = set()
    for system, exports in spec.items():
        if system not in SYSTEMS:
            raise ValueError(f"{path}: unknown source system {system!r} (one of: {', '.join(SYSTEMS)})")
        known = [e.name for e in SYSTEMS[system]]
        if exports == "all":
            names.update(known)
            continue
        if not isinstance(exports, list):
            raise ValueError(f"{path}: {system}: expected `all` or a list of exports, got {exports!r}")
        for name in exports:
            if name not in known:
                raise ValueError(f"{path}: {system}: unknown export {name!r} (one of: {', '.join(known)})")
            names.add(name)
    return frozenset(names)


def not_delivered(path: Path) -> frozenset[str]:
    return frozenset(BY_NAME) - delivered_exports(path)
