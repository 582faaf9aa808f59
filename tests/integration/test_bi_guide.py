"""docs/bi_connection_guide.md, literally, against a published snapshot: the roll-up queries (marts.kpi_monthly,
kpi_weekly) give every KPI a value (amounts and counts too), the venv-Python one-liner and the Python section run."""
from __future__ import annotations

import re
import subprocess
import sys

import duckdb

from pipelines.settings import PROJECT_ROOT

GUIDE = (PROJECT_ROOT / "docs" / "bi_connection_guide.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", GUIDE, re.S)


def test_the_roll_up_query_sums_amounts_and_divides_ratios(published_demo):
    (query,) = [b for b in _blocks("sql") if "kpi_monthly" in b]
    # the guide's month, moved to the demo's (2026-03-18 .. 2026-03-31)
    query = query.replace("2026-10-01", "2026-03-01")
    with duckdb.connect(str(published_demo.serving_path), read_only=True) as con:
        got = {row[2]: row[4] for row in con.execute(query).fetchall()}
        (weekly,) = [b for b in _blocks("sql") if "kpi_weekly" in b]
        assert con.execute(weekly).fetchall(), "the guide's weekly query has rows"
        rows = con.execute("""select kpi_id, numerator, denominator from marts.fct_kpi_daily
                              where segment_type = 'all' and kpi_date between '2026-03-01' and '2026-03-31'""").fetchall()
        rollup = dict(con.execute("select kpi_id, rollup from marts.dim_kpi").fetchall())
    num: dict[str, float] = {}
    den: dict[str, float] = {}
    for kpi_id, n, d in rows:
        num[kpi_id] = num.get(kpi_id, 0) + float(n or 0)
        den[kpi_id] = den.get(kpi_id, 0) + float(d or 0)
    assert "sf_net_revenue_amount" in got and rollup["sf_net_revenue_amount"] == "sum"
    for kpi_id, value in got.items():
        if rollup[kpi_id] == "sum":
            assert value is not None and abs(float(value) - num[kpi_id]) < 1e-6, kpi_id
        elif den[kpi_id]:
            assert abs(float(value) - num[kpi_id] / den[kpi_id]) < 1e-9, kpi_id


def test_the_python_commands_of_the_guide_run(published_demo):
    snapshot = str(published_demo.serving_path)
    (one_liner,) = [line for b in _blocks("bash") for line in b.splitlines() if line.startswith(".venv/bin/python")]
    code = re.search(r'-c "(.*)"$', one_liner).group(1).replace("data/serving/kpi.duckdb", snapshot)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "published_at" in out or "snapshot" in out, out
    (section,) = [b for b in _blocks("python") if "duckdb.connect" in b]
    scope: dict = {}
    exec(section.replace("data/serving/kpi.duckdb", snapshot), scope)  # noqa: S102 (the guide's own code)
    assert len(scope["df"]) > 0 and set(scope["df"]["segment_type"]) == {"all"}
