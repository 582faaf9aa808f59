"""The dbt resource skips dagster-dbt's per-call `dbt --version` and adapter set-up (pipelines/transform.py)."""
from __future__ import annotations

from importlib.metadata import version

from dagster_dbt import DbtCliResource

from pipelines.transform import KpiDbtCliResource, dbt_resource


def test_the_hooks_it_overrides_still_exist_in_dagster_dbt():
    # A dagster-dbt upgrade that renames them would silently bring the costs back.
    assert callable(DbtCliResource._initialize_dbt_core_adapter)
    assert "_cli_version" in vars(DbtCliResource)
    assert isinstance(dbt_resource(), KpiDbtCliResource)


def test_version_from_the_installed_package_and_no_adapter(monkeypatch):
    import dagster_dbt.core.resource as dagster_dbt_resource

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dbt --version was run: {args}")

    # where dagster-dbt's own _cli_version runs `dbt --version`
    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    resource = dbt_resource()
    assert str(resource._cli_version) == version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None
