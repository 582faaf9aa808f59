"""The `kpi` command as a user calls it."""
from __future__ import annotations

import argparse
from importlib.metadata import version

import pytest

from pipelines.cli import JOBS, build_parser, main
from pipelines.exports import EXPORTS


def test_demo_data_writes_every_export(tmp_path, capsys):
    out = tmp_path / "landing"
    assert main(["demo-data", "--out", str(out), "--days", "2", "--scale", "0.05", "--seed", "1", "--end-date", "2026-01-31"]) == 0
    for e in EXPORTS:
        assert list((out / e.folder).glob(f"{e.name}*.{e.extension}")), e.name
    assert "rows in 20 exports" in capsys.readouterr().out


def test_contracts_check_passes_on_a_clean_tree():
    assert main(["contracts", "--check"]) == 0


def _subparsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _subparsers(child, (*path, name))


def test_every_option_of_every_command_has_help():
    missing = [f"kpi {' '.join(path)} {action.option_strings or action.dest}"
               for path, parser in _subparsers(build_parser()) for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert not missing, missing


def test_run_lists_exactly_the_jobs_of_the_definitions(capsys):
    from pipelines.definitions import defs

    jobs = {job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
    assert set(JOBS) == jobs
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in jobs), out
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--job", "no_such_job"])
    assert exit_.value.code == 2
    assert "invalid choice: 'no_such_job'" in capsys.readouterr().err


def test_sop_check_help_is_its_own_and_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit):
        main(["sop", "check", "--help"])
    assert capsys.readouterr().out.startswith("usage: kpi sop check [-h]")
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"kpi {version('kpi-sop-pipeline')}"


def test_sop_check_validates_the_registry(capsys):
    assert main(["sop", "check"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("checks: valid")


def test_demo_ends_with_every_place_to_look(settings):
    """`kpi demo`'s last lines name what it produced and what to open next, the BI app included;
    nothing published: no dashboard, snapshot or BI app to point at."""
    from pipelines.cli import _say_where_to_look

    published: list[str] = []
    _say_where_to_look(settings, published=True, say=published.append)
    text = "\n".join(published)
    for shown in (settings.dashboard_path.name, settings.serving_path.name, "make bi", "http://127.0.0.1:8501",
                  "index.html", "make dev"):
        assert shown in text, (shown, text)
    held: list[str] = []
    _say_where_to_look(settings, published=False, say=held.append)
    assert "nothing was published" in "\n".join(held) and "make bi" not in "\n".join(held)
