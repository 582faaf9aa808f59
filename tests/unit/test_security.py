"""Security: loopback by default, secrets never echoed, SQL identifiers only from the contracts.

Cheap on purpose: nothing here starts a server or runs dbt.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import logging
import re
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from pipelines.exports import BY_NAME
from pipelines.exports.contract import Column, Export
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.warehouse import connect
from tests.conftest import write_csv

INGEST = PROJECT_ROOT / "pipelines" / "ingest"  # the loader's package
ORDERS = BY_NAME["orders"]


# --- the webserver binds loopback ------------------------------------------------------------

def _server_commands(target: str, *overrides: str) -> list[str]:
    """The commands `make <target>` would run (dry run: nothing is started or installed)."""
    out = subprocess.run(["make", "-n", "-C", str(PROJECT_ROOT), target, *overrides], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if re.search(r"\b(dagster|dg|dagster-webserver)\b.*\b(dev|-w)\b", line)]


def _host_of(command: str) -> str | None:
    m = re.search(r"(?:-h|--host)[ =](\S+)", command)
    return m.group(1) if m else None


def test_make_dev_binds_the_webserver_to_loopback():
    commands = _server_commands("dev")
    assert commands, "make dev starts the Dagster webserver"
    for command in commands:
        # dagster dev defaults to 127.0.0.1 too; an explicit other host must be a deliberate configuration.
        assert _host_of(command) in (None, "127.0.0.1", "localhost"), command


def test_the_docs_server_defaults_to_loopback():
    from pipelines.cli import main

    with pytest.raises(SystemExit):
        main(["docs", "--help"])
    source = (PROJECT_ROOT / "pipelines" / "cli.py").read_text()
    assert not re.search(r"""["']0\.0\.0\.0["']""", source), "no server binds every interface by default"
    assert re.search(r"""add_argument\(["']--host["'], default=["']127\.0\.0\.1["']""", source)


# --- secrets come from the environment and are never echoed -----------------------------------

SECRETS = {
    "KPI_ALERT_WEBHOOK_URL": "https://hooks.example.invalid/services/T0/B0/sekrit-webhook-7f3a",
    "KPI_WAREHOUSE_PASSWORD": "pw-sekrit-91c2",
    "KPI_API_TOKEN": "tok-sekrit-55e8",
    "DATABASE_URL": "postgres://kpi:sekrit-db-pass@db.example.invalid/kpi",
    "SLACK_BOT_TOKEN": "xoxb-sekrit-0000",
}
SECRET_NAME = re.compile(r"(_URL$|TOKEN|PASSWORD|SECRET|_KEY$|CREDENTIAL)")


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text or value.split("//")[-1][:20] in text]


def test_settings_never_hold_or_echo_secret_environment_variables(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    s = Settings.from_env()
    assert not _leaks(repr(s) + json.dumps(dataclasses.asdict(s), default=str) + json.dumps(s.dbt_env()))
    # Settings read no variable that looks like a secret: those are read where used, never stored.
    source = (PROJECT_ROOT / "pipelines" / "settings.py").read_text()
    read = re.findall(r"""environ(?:\.get)?[\[(]\s*["']([A-Z0-9_]+)["']""", source) + re.findall(r"""_path\(["']([A-Z0-9_]+)["']""", source)
    assert read, "settings.py reads its variables from the environment"
    assert not [v for v in read if SECRET_NAME.search(v)], read


def test_run_logs_and_asset_metadata_never_echo_secrets(settings, monkeypatch, caplog):
    """A good and a failing ingest run, with secret-looking variables set: no event, log line or
    metadata value of either run contains one of them."""
    from pipelines.ingest import build_raw_asset

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    write_csv(settings.landing_dir, ORDERS, [{"order_id": "O1", "currency": "USD", "created_at": "2026-01-01 00:00:00"}])
    instance = dg.DagsterInstance.ephemeral()
    good = dg.materialize([build_raw_asset(ORDERS)], instance=instance, raise_on_error=False)
    assert good.success
    write_csv(settings.landing_dir, ORDERS, [{"order_id": "O2"}], day="2026-01-02", columns=["order_id"])
    bad = dg.materialize([build_raw_asset(ORDERS)], instance=instance, raise_on_error=False)
    assert not bad.success, "a file missing required columns fails the asset"

    text = caplog.text
    for result in (good, bad):
        for entry in instance.all_logs(result.run_id):
            text += entry.user_message or ""
            if entry.dagster_event:
                text += repr(entry.dagster_event.event_specific_data)
    assert "missing required column" in text, "the failure is in the log (the check reads what it should)"
    assert not _leaks(text)


# --- SQL: identifiers only from the contracts, values bound ----------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|DELETE|CREATE|ALTER|DROP|UPDATE|FROM|WHERE|JOIN|CASE|WHEN|CAST|read_csv|"
                       r"read_parquet|json_object|concat_ws|unnest)\b")

# No list of reviewed f-strings (a change detector any re-wording satisfies or breaks): what is
# checked is what matters. Statically, no name that carries data from a landing file is ever spliced
# into SQL text, and SQL is never built with % or str.format. Behaviourally, hostile file names,
# header names and values in every format load as data (the tests after this one).
# Names that carry data from a landing file: never inside SQL text.
DATA = {"path", "rel", "header", "names", "line", "exc", "error", "result", "p", "h", "text", "value", "warning"}


def _sql_fstrings(tree: ast.AST):
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def function(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef):
                return node.name
        return "<module>"

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            constant = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if SQL_WORDS.search(constant):
                yield function(node), node


def test_ingest_never_splices_landing_file_data_into_sql():
    tree = ast.Module(body=[n for p in sorted(INGEST.glob("*.py")) for n in ast.parse(p.read_text()).body], type_ignores=[])
    tainted = []
    for func, node in _sql_fstrings(tree):
        for value in node.values:
            if not isinstance(value, ast.FormattedValue):
                continue
            expr = ast.unparse(value.value)
            names = {ast.unparse(n) for n in ast.walk(value.value) if isinstance(n, (ast.Name, ast.Attribute))}
            if names & DATA or {n for n in names if n.startswith("f.") and n != "f.fid"}:
                tainted.append(f"line {value.lineno} in {func}(): {{{expr}}}")
    assert not tainted, f"data from a landing file spliced into SQL: {tainted}"
    # No other way of building SQL text: no %-formatting, no str.format on SQL.
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
                and isinstance(node.left.value, str) and SQL_WORDS.search(node.left.value):
            pytest.fail(f"line {node.lineno}: %-formatted SQL")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                and isinstance(node.func.value, ast.Constant) and SQL_WORDS.search(str(node.func.value.value)):
            pytest.fail(f"line {node.lineno}: str.format on SQL")


def test_a_contract_name_that_is_not_an_identifier_is_refused_before_any_sql(settings):
    from pipelines.ingest import ensure_raw_tables

    evil = Export(system="x", name="evil", description="", primary_key=("id",),
                  columns=(Column("id", "VARCHAR", "", nullable=False), Column('v"; DROP TABLE raw.orders; --', "VARCHAR", "")))
    with connect(settings.warehouse_path) as con:
        ensure_raw_tables(con, (ORDERS,))
        with pytest.raises(ValueError, match="not a valid contract identifier"):
            ensure_raw_tables(con, (evil,))
        assert con.execute("SELECT count(*) FROM raw.orders").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'evil'").fetchone() == (0,)


def test_hostile_file_names_header_names_and_values_load_as_data(settings):
    """File names, header names and values are data: a landing file named like an injection loads safely."""
    from pipelines.ingest import REJECTS, ensure_raw_tables, load_export

    injection = "'; DROP TABLE raw.orders; --"
    cols = ORDERS.column_names + [f"x{injection}", 'y"); DROP TABLE raw.orders; --']
    write_csv(settings.landing_dir, ORDERS,
              [{"order_id": f"O1{injection}", "currency": f"{injection}", "created_at": "2026-01-01 00:00:00"}],
              name=f"orders_{injection}.csv", columns=cols)
    write_csv(settings.landing_dir, ORDERS, [{"order_id": "O2", "created_at": f"x{injection}"}],
              name="orders_2026-01-02.csv")
    with connect(settings.warehouse_path) as con:
        ensure_raw_tables(con)
        result = load_export(con, ORDERS, settings.landing_dir)
        assert (result.rows_loaded, result.rows_rejected) == (1, 1)
        assert con.execute("SELECT order_id, currency, _source_file FROM raw.orders").fetchall() == [
            (f"O1{injection}", injection, f"storefront/orders/orders_{injection}.csv")]
        assert injection in con.execute(f"SELECT error FROM {REJECTS}").fetchone()[0]
        assert result.extra_columns == {f"storefront/orders/orders_{injection}.csv": cols[-2:]}


HOSTILE = ["'; DROP TABLE raw.orders; --", 'x"); DROP TABLE raw.orders; --', "{parallel}", "$1 ? %s {0}", "\\' OR 1=1 --",
           "é’ \u2028 ☃"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_hostile_values_and_names_load_as_data_in_json_lines_and_parquet(settings, fmt):
    """The same in the other two formats: every hostile text comes back byte for byte, nothing else changes."""
    import json

    import duckdb

    from pipelines.exports import BY_NAME
    from pipelines.ingest import ensure_raw_tables, load_export

    e = BY_NAME["web_events"] if fmt == "jsonl" else BY_NAME["inventory_snapshots"]
    folder = settings.landing_dir / e.folder
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        rows = [{"event_id": f"E{i}{h}", "session_id": h, "occurred_at": "2026-01-01T00:00:00Z", "event_type": h}
                for i, h in enumerate(HOSTILE)]
        path = folder / f"web_events_{HOSTILE[0]}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        expected = sorted((r["event_id"], r["session_id"]) for r in rows)
        query = "SELECT event_id, session_id FROM raw.web_events ORDER BY 1"
    else:
        path = folder / f"inventory_snapshots_{HOSTILE[0]}.parquet"
        with duckdb.connect() as c:
            c.execute("CREATE TABLE t AS SELECT DATE '2026-01-01' AS snapshot_date, unnest(?::VARCHAR[]) AS warehouse_id, "
                      "'SKU' AS sku, 1 AS on_hand, 0 AS reserved, 0 AS inbound_on_order", [HOSTILE])
            c.execute("COPY t TO '" + str(path).replace("'", "''") + "' (FORMAT parquet)")
        expected = sorted((h, "SKU") for h in HOSTILE)
        query = "SELECT warehouse_id, sku FROM raw.inventory_snapshots ORDER BY 1"
    with connect(settings.warehouse_path) as con:
        ensure_raw_tables(con)
        result = load_export(con, e, settings.landing_dir)
        assert (result.rows_loaded, result.rows_rejected) == (len(HOSTILE), 0)
        assert sorted(con.execute(query).fetchall()) == expected
        assert con.execute("SELECT DISTINCT _source_file FROM raw." + e.name).fetchall() == [(path.relative_to(settings.landing_dir).as_posix(),)]
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = 'orders'").fetchone() == (1,)
