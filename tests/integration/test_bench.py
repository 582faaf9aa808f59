"""`kpi bench` at the smallest scale: the report is written and pipeline, floor and pandas baseline agree.

No timing assertion: the figures depend on the machine; this checks the benchmark itself works.
"""
import datetime as dt
import json

from pipelines.bench import BASELINE_KPIS, bench


def test_bench_smoke(tmp_path):
    out = tmp_path / "reports"
    report = bench(scale=0.05, days=10, seed=7, end_date=dt.date(2026, 3, 31), out=out, root=tmp_path / "bench")

    md, js = out / "bench_0.05.md", out / "bench_0.05.json"
    assert md.exists() and js.exists()
    assert json.loads(js.read_text())["params"]["scale"] == 0.05
    text = md.read_text()
    for heading in ("Side by side", "Against the targets", "Do the three agree?"):
        assert heading in text

    assert report["pipeline"]["success"], report["pipeline"]
    stages = report["pipeline"]["stages"]
    assert stages["ingest"] > 0 and stages["dbt"] > 0 and stages["total"] >= stages["ingest"] + stages["dbt"]
    assert report["pipeline"]["peak_rss_bytes"] > 0 and report["floor"]["peak_rss_bytes"] > 0

    floor = report["agreement"]["floor"]
    assert floor["pipeline_rows"] > 0 and floor["mismatched_rows"] == 0, floor
    base = report["agreement"]["baseline"]
    assert base["kpis_compared"] == len(BASELINE_KPIS)
    assert base["mismatched_rows"] == 0, base
    # every KPI of the catalogue is either in the baseline or named as left out
    assert set(report["baseline_skipped"]).isdisjoint(BASELINE_KPIS) and report["baseline_skipped"]
    # the held-back last day is delivered and its partition run, as the schedule runs it
    assert report["incremental"]["measured"] and report["incremental"]["success"], report["incremental"]
    assert report["ratios"]["incremental_over_full"] is not None
