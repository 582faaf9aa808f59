"""SOPs as code: the registry (expectations/sops.yml), the GX runner on DuckDB, the gates as
Dagster asset checks inside the dbt step, their results, the SOP site and the console report."""
from __future__ import annotations

import dagster as dg


def with_sop_owners(assets: list) -> list:
    """Give every asset an SOP gate sits on (or an SOP reads) the owners of its SOPs, kept with any it has."""
    from .checks import owners_by_asset

    owners = owners_by_asset()

    def add(spec: dg.AssetSpec) -> dg.AssetSpec:
        extra = owners.get(spec.key)
        if not extra:
            return spec
        return spec.replace_attributes(owners=[*spec.owners, *(o for o in extra if o not in spec.owners)])

    return list(dg.map_asset_specs(add, assets))


def sop_asset_specs() -> list[dg.AssetSpec]:
    """Assets of the SOP package that no step produces as an output (written by the dbt step)."""
    from .gating import refresh_log_spec

    return [refresh_log_spec()]
