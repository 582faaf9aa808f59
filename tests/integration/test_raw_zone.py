"""The raw zone (typed Parquet by export date, pipelines/raw_zone.py) written by the loader, on a real DuckDB."""
from __future__ import annotations

import duckdb
import pytest

from pipelines.exports import BY_NAME
from pipelines.ingest import ContractViolation, load_export
from pipelines.raw_zone import MANIFEST, export_date_of
from pipelines.settings import Settings
from pipelines.warehouse import connect
from tests.conftest import write_csv
from tests.integration.test_ingest import ticket

TICKETS = BY_NAME["tickets"]


@pytest.fixture(autouse=True)
def raw_zone_on(monkeypatch):
    """These tests are about the raw zone: on, as for the Spark target (the default is off)."""
    monkeypatch.setenv("KPI_RAW_ZONE", "on")


def test_the_raw_zone_is_not_written_by_default(tmp_path, monkeypatch):
    """Only a second engine reads it: the embedded default (DuckDB) never pays for writing it."""
    monkeypatch.delenv("KPI_RAW_ZONE")
    monkeypatch.delenv("KPI_RAW_ZONE_DIR", raising=False)
    monkeypatch.setenv("KPI_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("KPI_WAREHOUSE_PATH", str(tmp_path / "warehouse" / "kpi.duckdb"))
    write_csv(tmp_path / "landing", TICKETS, [ticket("T1")], day="2026-01-01")
    assert Settings.from_env().raw_zone_dir is None
    with connect(tmp_path / "warehouse" / "kpi.duckdb") as con:
        assert load_export(con, TICKETS, tmp_path / "landing").rows_loaded == 1
    assert not [p for p in tmp_path.rglob("*") if "raw_zone" in p.name]
    monkeypatch.setenv("KPI_RAW_ZONE_DIR", str(tmp_path / "zone"))  # configured for Spark: written
    assert Settings.from_env().raw_zone_dir == tmp_path / "zone"


def zone_rows(settings, export="tickets"):
    folder = settings.raw_zone_dir / export
    return sorted(duckdb.sql(
        f"SELECT export_date::VARCHAR, ticket_id, status, _source_file FROM read_parquet('{folder}/*/*.parquet', "
        "hive_partitioning = true)").fetchall())


def partition_files(settings, export="tickets"):
    return {p.parent.name: p.stat().st_mtime_ns for p in (settings.raw_zone_dir / export).glob("export_date=*/*.parquet")}


def test_export_date_is_the_date_in_the_file_name_else_the_first_load_day():
    assert export_date_of("helpdesk/tickets/tickets_2026-01-02.csv.gz", "2026-11-22") == "2026-01-02"
    assert export_date_of("storefront/products/products.csv", "2026-11-22") == "2026-11-22"


def test_loader_writes_typed_partitions_and_rewrites_only_changed_days(settings):
    write_csv(settings.landing_dir, TICKETS, [ticket("T1"), ticket("T2")], day="2026-01-01")
    write_csv(settings.landing_dir, TICKETS, [ticket("T9")], day="2026-01-02")
    with connect(settings.warehouse_path) as con:
        load_export(con, TICKETS, settings.landing_dir)
        assert zone_rows(settings) == [
            ("2026-01-01", "T1", "new", "helpdesk/tickets/tickets_2026-01-01.csv"),
            ("2026-01-01", "T2", "new", "helpdesk/tickets/tickets_2026-01-01.csv"),
            ("2026-01-02", "T9", "new", "helpdesk/tickets/tickets_2026-01-02.csv"),
        ]
        types = dict(duckdb.sql(f"DESCRIBE SELECT * FROM '{settings.raw_zone_dir}/tickets/*/*.parquet'").fetchall()[i][:2]
                     for i in range(3))
        assert types == {"ticket_id": "VARCHAR", "created_at": "TIMESTAMP WITH TIME ZONE",
                         "updated_at": "TIMESTAMP WITH TIME ZONE"}
        before = partition_files(settings)

        # Nothing new: nothing rewritten.
        load_export(con, TICKETS, settings.landing_dir)
        assert partition_files(settings) == before

        # Day 1 corrected: only its partition is rewritten, with the new content.
        write_csv(settings.landing_dir, TICKETS, [ticket("T1", status="open")], day="2026-01-01")
        load_export(con, TICKETS, settings.landing_dir)
        after = partition_files(settings)
        assert after["export_date=2026-01-02"] == before["export_date=2026-01-02"]
        assert after["export_date=2026-01-01"] != before["export_date=2026-01-01"]
        assert zone_rows(settings) == [
            ("2026-01-01", "T1", "open", "helpdesk/tickets/tickets_2026-01-01.csv"),
            ("2026-01-02", "T9", "new", "helpdesk/tickets/tickets_2026-01-02.csv"),
        ]
        in_table = con.execute("SELECT count(*) FROM raw.tickets").fetchone()[0]
    assert in_table == len(zone_rows(settings))
    assert (settings.raw_zone_dir / "tickets" / MANIFEST).exists()
    assert (settings.raw_zone_dir / "_load_log" / "data_0.parquet").exists()


def test_failed_load_writes_nothing_to_the_raw_zone(settings):
    write_csv(settings.landing_dir, TICKETS, [ticket("T1")], day="2026-01-01")
    with connect(settings.warehouse_path) as con:
        load_export(con, TICKETS, settings.landing_dir)
        before = (zone_rows(settings), partition_files(settings))
        write_csv(settings.landing_dir, TICKETS, [ticket("T2")], day="2026-01-02")
        broken = [c for c in TICKETS.column_names if c != "channel"]
        write_csv(settings.landing_dir, TICKETS, [ticket("T3")], day="2026-01-03", columns=broken)
        with pytest.raises(ContractViolation):
            load_export(con, TICKETS, settings.landing_dir)
    assert (zone_rows(settings), partition_files(settings)) == before


def test_raw_zone_off(settings, monkeypatch):
    monkeypatch.setenv("KPI_RAW_ZONE", "off")
    write_csv(settings.landing_dir, TICKETS, [ticket("T1")], day="2026-01-01")
    with connect(settings.warehouse_path) as con:
        load_export(con, TICKETS, settings.landing_dir)
    assert not (settings.raw_zone_dir / "tickets").exists()
