"""Raw ingestion against a real DuckDB file: idempotency, re-delivery, contract failures, rejects."""
from __future__ import annotations

import pytest

from pipelines.exports import BY_NAME
from pipelines.ingest import REJECTS, ContractViolation, ensure_raw_tables, load_export
from pipelines.warehouse import connect
from tests.conftest import write_csv

TICKETS = BY_NAME["tickets"]


def ticket(tid: str, created="2026-01-01 09:00:00", updated="2026-01-01 09:00:00", **kw) -> dict:
    return {"ticket_id": tid, "created_at": created, "updated_at": updated, "channel": "email",
            "priority": "normal", "status": "new", "requester_id": "C1", **kw}


@pytest.fixture
def con(settings):
    c = connect(settings.warehouse_path)
    ensure_raw_tables(c)
    yield c
    c.close()


def rows(con, sql="SELECT ticket_id, status, _source_file FROM raw.tickets ORDER BY ALL"):
    return con.execute(sql).fetchall()


def test_second_run_adds_nothing(settings, con):
    write_csv(settings.landing_dir, TICKETS, [ticket("T1"), ticket("T2")], day="2026-01-01")
    write_csv(settings.landing_dir, TICKETS, [ticket("T3")], day="2026-01-02")
    first = load_export(con, TICKETS, settings.landing_dir)
    assert (first.files_seen, len(first.files_loaded), first.rows_loaded) == (2, 2, 3)
    before = rows(con, "SELECT * FROM raw.tickets ORDER BY ALL")

    second = load_export(con, TICKETS, settings.landing_dir)
    assert (second.files_unchanged, second.files_loaded, second.rows_loaded) == (2, [], 0)
    assert rows(con, "SELECT * FROM raw.tickets ORDER BY ALL") == before
    assert con.execute("SELECT count(*) FROM raw._load_log").fetchone()[0] == 2


def test_redelivered_file_replaces_its_own_rows(settings, con):
    write_csv(settings.landing_dir, TICKETS, [ticket("T1"), ticket("T2")], day="2026-01-01")
    write_csv(settings.landing_dir, TICKETS, [ticket("T9")], day="2026-01-02")
    load_export(con, TICKETS, settings.landing_dir)
    # The source system corrects day 1: T2 is gone, T1 changed, T3 is new.
    write_csv(settings.landing_dir, TICKETS, [ticket("T1", status="open"), ticket("T3")], day="2026-01-01")
    again = load_export(con, TICKETS, settings.landing_dir)
    assert again.files_loaded == ["helpdesk/tickets/tickets_2026-01-01.csv"]
    assert again.files_unchanged == 1
    assert rows(con) == [
        ("T1", "open", "helpdesk/tickets/tickets_2026-01-01.csv"),
        ("T3", "new", "helpdesk/tickets/tickets_2026-01-01.csv"),
        ("T9", "new", "helpdesk/tickets/tickets_2026-01-02.csv"),
    ]


def test_file_missing_a_required_column_fails_and_loads_nothing(settings, con):
    write_csv(settings.landing_dir, TICKETS, [ticket("T1")], day="2026-01-01")
    load_export(con, TICKETS, settings.landing_dir)
    before = rows(con, "SELECT * FROM raw.tickets ORDER BY ALL")

    good = write_csv(settings.landing_dir, TICKETS, [ticket("T2")], day="2026-01-02")
    broken_cols = [c for c in TICKETS.column_names if c != "channel"]
    write_csv(settings.landing_dir, TICKETS, [ticket("T3")], day="2026-01-03", columns=broken_cols)
    with pytest.raises(ContractViolation) as err:
        load_export(con, TICKETS, settings.landing_dir)
    msg = str(err.value)
    assert "tickets_2026-01-03.csv" in msg and "channel" in msg
    # Nothing of this run was loaded (not even the good file), and what was there is intact.
    assert rows(con, "SELECT * FROM raw.tickets ORDER BY ALL") == before
    assert con.execute("SELECT count(*) FROM raw._load_log WHERE source_file LIKE '%01-02%'").fetchone()[0] == 0
    assert good.exists()


def test_uncastable_values_are_quarantined_with_line_numbers(settings, con):
    write_csv(settings.landing_dir, TICKETS, [
        ticket("T1"),
        ticket("T2", created="not a time"),          # line 3
        ticket("T3"),
        ticket("T4", solved_at="2026-13-45 99:00"),  # line 5
    ])
    result = load_export(con, TICKETS, settings.landing_dir)
    assert (result.rows_loaded, result.rows_rejected) == (2, 2)
    assert [r[0] for r in rows(con)] == ["T1", "T3"]
    rejects = con.execute(f"SELECT source_file, line, column_name, error FROM {REJECTS} ORDER BY line").fetchall()
    assert [(r[0], r[1], r[2]) for r in rejects] == [
        ("helpdesk/tickets/tickets_2026-01-01.csv", 3, "created_at"),
        ("helpdesk/tickets/tickets_2026-01-01.csv", 5, "solved_at"),
    ]
    assert "not a time" in rejects[0][3]


def test_null_primary_key_is_rejected(settings, con):
    write_csv(settings.landing_dir, TICKETS, [ticket("T1"), ticket("")])
    result = load_export(con, TICKETS, settings.landing_dir)
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert con.execute(f"SELECT column_name, error FROM {REJECTS}").fetchall() == [("ticket_id", "primary key is NULL")]


def test_extra_and_reordered_columns_load_by_name(settings, con):
    cols = list(reversed(TICKETS.column_names)) + ["surprise"]
    write_csv(settings.landing_dir, TICKETS, [ticket("T1", surprise="x", status="open")], columns=cols)
    result = load_export(con, TICKETS, settings.landing_dir)
    assert result.rows_loaded == 1
    assert result.extra_columns == {"helpdesk/tickets/tickets_2026-01-01.csv": ["surprise"]}
    assert rows(con, "SELECT ticket_id, channel, status FROM raw.tickets") == [("T1", "email", "open")]


def test_link_leaving_the_landing_folder_is_refused(settings, con, tmp_path):
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(",".join(TICKETS.column_names) + "\n")
    folder = settings.landing_dir / TICKETS.folder
    folder.mkdir(parents=True)
    (folder / "tickets_2026-01-01.csv").symlink_to(outside)
    with pytest.raises(ContractViolation, match="outside the landing folder"):
        load_export(con, TICKETS, settings.landing_dir)


def test_large_file_loads_every_value(settings, con):
    """Several DuckDB row groups (> 122,880 rows): every value arrives, and bad rows are still caught."""
    n = 300_000
    path = settings.landing_dir / TICKETS.folder / TICKETS.file_name("2026-01-01")
    path.parent.mkdir(parents=True)
    with connect(settings.warehouse_path.parent / "gen.duckdb") as gen:
        gen.execute(
            f"""COPY (SELECT 'T' || i AS ticket_id,
                       CASE WHEN i = 200000 THEN 'oops' ELSE '2026-01-01 09:00:00' END AS created_at,
                       '2026-01-01 09:00:00' AS updated_at, 'chat' AS channel, 'low' AS priority, 'new' AS status,
                       NULL AS category, 'C' || (i % 97) AS requester_id, NULL AS order_id, NULL AS assignee_id,
                       NULL AS solved_at
                FROM range({n}) r(i) ORDER BY i) TO '{path}' (HEADER)"""
        )
    result = load_export(con, TICKETS, settings.landing_dir)
    assert (result.rows_loaded, result.rows_rejected) == (n - 1, 1)
    assert con.execute("SELECT count(ticket_id), count(created_at), count(requester_id) FROM raw.tickets").fetchone() == (n - 1,) * 3
    assert con.execute(f"SELECT line FROM {REJECTS}").fetchone()[0] == 200_000 + 2


def test_contract_generator_and_ingestion_agree(settings, con):
    """Every export the generator writes loads completely, typed exactly as its contract declares."""
    import datetime as dt

    from pipelines.exports import EXPORTS
    from pipelines.exports.demo import generate_demo_exports

    written = generate_demo_exports(settings.landing_dir, days=5, scale=0.1, seed=5, end_date=dt.date(2026, 2, 1), progress=None)
    for e in EXPORTS:
        result = load_export(con, e, settings.landing_dir)
        assert (result.rows_loaded, result.rows_rejected, result.extra_columns) == (written[e.name], 0, {}), e.name
        types = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = ? ORDER BY ordinal_position", [e.name]).fetchall()
        assert types[: len(e.columns)] == [(c.name, c.type) for c in e.columns], e.name
        nulls = con.execute(f"SELECT count(*) FROM raw.{e.name} WHERE " + " OR ".join(f"{c} IS NULL" for c in e.required_columns if not e.column(c).nullable)).fetchone()[0]
        assert nulls == 0
