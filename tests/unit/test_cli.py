"""The `kpi` command as a user calls it."""
from __future__ import annotations

from pipelines.cli import main
from pipelines.exports import EXPORTS


def test_demo_data_writes_every_export(tmp_path, capsys):
    out = tmp_path / "landing"
    assert main(["demo-data", "--out", str(out), "--days", "2", "--scale", "0.05", "--seed", "1", "--end-date", "2026-01-31"]) == 0
    for e in EXPORTS:
        assert list((out / e.folder).glob(f"{e.name}*.{e.extension}")), e.name
    assert "rows in 20 exports" in capsys.readouterr().out


def test_contracts_check_passes_on_a_clean_tree():
    assert main(["contracts", "--check"]) == 0
