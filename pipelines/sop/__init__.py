"""SOPs as code: the registry (expectations/sops.yml), the GX runner on DuckDB, the gates as
Dagster asset checks between the dbt steps, their results, the SOP site and the console report."""
from __future__ import annotations

import dagster as dg


def with_sop_metadata(assets: list) -> list:
    """What the SOP registry says about the assets, as the UI shows it.

    Every asset an SOP names gets the owners of its SOPs (kept with any it has; see
    `owners_by_asset`), and every asset a Great Expectations suite validates gets the GX kind.
    """
    from .checks import gx_asset_keys, owners_by_asset

    keys = [spec.key for asset in assets for spec in _specs(asset)]
    owners = owners_by_asset(keys)
    gx = gx_asset_keys()

    def add(spec: dg.AssetSpec) -> dg.AssetSpec:
        extra = [o for o in owners.get(spec.key, []) if o not in spec.owners]
        kinds = {"great_expectations"} if spec.key in gx else set()
        if not extra and kinds <= spec.kinds:
            return spec
        return spec.replace_attributes(owners=[*spec.owners, *extra], kinds=spec.kinds | kinds)

    return list(dg.map_asset_specs(add, assets))


def _specs(asset) -> list[dg.AssetSpec]:
    return list(asset.specs) if isinstance(asset, dg.AssetsDefinition) else [asset]


def sop_asset_specs() -> list[dg.AssetSpec]:
    """The ops tables: written by the gate steps and the dbt steps beside their own outputs."""
    from .refresh import ops_specs

    return ops_specs()
