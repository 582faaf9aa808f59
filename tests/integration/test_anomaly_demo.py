"""The anomaly checks on demo worlds: the 14-day demo run through the whole pipeline is too short to judge and says
so (no anomaly check failed in its run); a 36-day demo loaded by the real loader is quiet (its exports of 100 rows
a day or more judged, the smaller ones too small to judge), until one export is delivered again with a tenth of its rows."""
import datetime as dt
import gzip

import pytest

from pipelines import anomaly


def test_the_clean_demo_is_not_judged_and_no_anomaly_check_failed(demo_world):
    kpis, exports = anomaly.evaluate(demo_world.settings.warehouse_path)
    assert kpis and all(j.verdict == "not_judged" for j in kpis), [j for j in kpis if j.verdict != "not_judged"]
    assert all(j.verdict == "not_judged" for j in exports.values())
    # 14 days: at most one earlier same weekday, and the reason says so
    assert any(j.reason and j.reason.startswith("too little history: 1 earlier") for j in kpis)
    result = anomaly.kpi_result(kpis)
    assert result.passed and result.description.startswith("not judged: "), result.description
    assert all(anomaly.export_result(j).description.startswith("not judged: ") for j in exports.values())
    # The pipeline's own run evaluated them: none failed (the runner prints a line per failed check).
    failed = [line for line in demo_world.run_lines if "✗ check" in line and "anomaly" in line]
    assert not failed, failed
    from pipelines.warehouse import connect

    with connect(demo_world.settings.warehouse_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ops.alerts WHERE kind = 'anomaly'").fetchone()[0] == 0


END = dt.date(2026, 3, 31)


@pytest.fixture
def loaded_36_days(settings):
    """36 demo days (the newest day has 5 earlier same weekdays) at scale 0.05, loaded by the real loader."""
    from pipelines.exports import EXPORTS
    from pipelines.exports.demo import generate_demo_exports
    from pipelines.ingest import load_export
    from pipelines.warehouse import connect

    generate_demo_exports(settings.landing_dir, days=36, scale=0.05, seed=5, end_date=END, progress=None)

    def load(exports=EXPORTS):
        with connect(settings.warehouse_path) as con:
            for e in exports:
                load_export(con, e, settings.landing_dir)

    load()
    return settings, load


def test_a_clean_36_day_world_is_quiet_and_a_tenth_of_the_web_events_fires(loaded_36_days):
    from pipelines.exports import BY_NAME

    settings, load = loaded_36_days
    _, exports = anomaly.evaluate(settings.warehouse_path)
    judged = {name: j for name, j in exports.items() if j.verdict != "not_judged"}
    # At scale 0.05 only the web exports reach 100 rows a day; the others say why they are not judged.
    assert {"web_sessions", "web_events"} <= set(judged), {n: j.reason for n, j in exports.items()}
    assert all(j.reason.startswith("too small to judge") for n, j in exports.items() if n not in judged)
    noisy = {n: j.shown() for n, j in judged.items() if j.verdict == "anomaly"}
    assert not noisy, noisy
    assert all(j.day == END and j.history_count == 5 for j in judged.values())

    # The newest web_events file delivered again with a tenth of its rows (the loader replaces what it loaded).
    e = BY_NAME["web_events"]
    path = next(p for p in (settings.landing_dir / e.folder).iterdir() if str(END) in p.name)
    assert e.format == "jsonl"  # one row a line, no header
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as f:
        body = [line for line in f if line.strip()]
    with opener(path, "wt") as f:
        f.writelines(body[: len(body) // 10])
    load([e])

    _, exports = anomaly.evaluate(settings.warehouse_path)
    orders = exports["web_events"]
    assert orders.verdict == "anomaly" and orders.observed == len(body) // 10 and orders.observed < orders.lower, orders.shown()
    result = anomaly.export_result(orders)
    assert not result.passed and "outside" in result.description
    assert {n for n, j in exports.items() if j.verdict == "anomaly"} == {"web_events"}
