"""The BI app (pipelines/bi/) as an analyst sees it: the real Streamlit server on a free loopback port,
headless Chromium (Debian's package), a published demo snapshot. One server and one browser for the
module: every page is visited once (`visited`), the tests read what it saw."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.kpis import STATUS_LABEL
from pipelines.report import format_value
from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse import connect
from tests.conftest import require_debian_tool
from tests.e2e.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

pytestmark = pytest.mark.browser
pytest.importorskip("streamlit", reason="the BI app's extra is not installed (`make test` installs it: uv pip install -e '.[bi]')")

HELD_MART, HELD_DOMAIN = "fct_logistics_daily", "logistics"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chosen_weeks(con) -> dict[str, str]:
    """Per domain, the week the test opens: its newest complete week (the newest one when none is)."""
    return dict(con.execute(
        """SELECT domain, strftime(arg_max(period_start, (is_complete, period_start)), '%Y-%m-%d')
           FROM marts.kpi_weekly WHERE segment_type = 'all' GROUP BY domain""").fetchall())


@pytest.fixture(scope="module")
def snapshot(published_demo, tmp_path_factory) -> Path:
    """A copy of the demo's snapshot with one KPI mart held back by a failed gate (ops.kpi_mart_state)."""
    copy = tmp_path_factory.mktemp("bi_snapshot") / "kpi.duckdb"
    shutil.copy(published_demo.serving_path, copy)
    with connect(copy) as con:
        con.execute("""UPDATE ops.kpi_mart_state SET held_by = 'sop_lg_01__shipments', held_reason = 'test: a failed data gate',
                       held_since = built_at, held_run_id = 'test' WHERE mart = ?""", [HELD_MART])
    return copy


@pytest.fixture(scope="module")
def server(snapshot, published_demo):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "KPI_SERVING_PATH": str(snapshot),
           "KPI_SOP_DOCS_DIR": str(published_demo.sop_docs_dir)}
    # The command of `make bi` (its settings: pipelines/bi/.streamlit/config.toml, read next to the script).
    proc = subprocess.Popen([str(Path(sys.executable).with_name("streamlit")), "run", "pipelines/bi/app.py", "--server.port", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{proc.stdout.read() if proc.poll() is not None else ''}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def visited(server, snapshot):
    """Open every page once: per path, the first table's rows (cells as shown) and the page's text; and
    every URL the browser requested."""
    from playwright.sync_api import sync_playwright

    require_debian_tool(CHROMIUM, "chromium", "browser")
    with connect(snapshot, read_only=True) as con:
        weeks = _chosen_weeks(con)
        domains = [r[0] for r in con.execute(
            "SELECT domain FROM marts.dim_kpi GROUP BY domain ORDER BY min(catalog_order)").fetchall()]
    paths = {d: f"/{d}?grain=week&period={weeks[d]}" for d in domains} | {"freshness": "/freshness", "overview": "/"}
    requests: list[str] = []
    seen: dict[str, tuple[list[list[str]], str]] = {}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            for name, path in paths.items():
                page.goto(server + path)
                page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=30_000)
                # Streamlit streams the elements; the script run is over when its status widget is gone.
                page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
                # The last element each test reads (the status widget can go before the last element is drawn).
                page.wait_for_selector({"overview": "text=Data freshness (exports", "freshness": '[data-testid="stTable"] >> nth=1',
                                        "sop": "iframe"}.get(name, '[data-testid="stTable"]'), timeout=30_000)
                rows = page.eval_on_selector_all(
                    '[data-testid="stTable"]:first-of-type table tbody tr',
                    "rows => rows.map(r => Array.from(r.querySelectorAll('th, td')).map(c => c.innerText.trim()))")
                seen[name] = (rows, page.inner_text('[data-testid="stMain"]'))
                page.screenshot(path=str(SCREENSHOTS / f"bi_{name}.png"), full_page=True)
        finally:
            browser.close()
    return {"weeks": weeks, "domains": domains, "pages": seen, "requests": requests}


def test_every_domain_page_shows_the_snapshots_week(visited, snapshot):
    """Each domain's page (the list from marts.dim_kpi) shows, for the chosen week, every KPI of the
    domain with the value and target of marts.kpi_weekly, formatted by report.format_value."""
    assert visited["domains"][:5] == ["storefront", "customer_service", "manufacturing", "marketing", "logistics"]
    with connect(snapshot, read_only=True) as con:
        for domain in visited["domains"]:
            expected = {kpi_id: (format_value(value, unit), format_value(target, unit) if target is not None else "no target", status)
                        for kpi_id, value, unit, target, status in con.execute(
                            """SELECT kpi_id, value, unit, target, status FROM marts.kpi_weekly
                               WHERE segment_type = 'all' AND domain = ? AND period_start = ?""",
                            [domain, visited["weeks"][domain]]).fetchall()}
            rows, _ = visited["pages"][domain]
            shown = {r[0]: (r[2], r[3]) for r in rows}  # kpi_id | KPI | value | target | status | stale
            assert shown == {k: v[:2] for k, v in expected.items()}, domain
            statuses = {r[0]: r[4] for r in rows}
            for kpi_id, (_, _, status) in expected.items():
                if status:
                    assert statuses[kpi_id] == STATUS_LABEL[status], (domain, kpi_id)


def test_a_held_back_domain_shows_its_mark_and_the_others_do_not(visited):
    for domain in visited["domains"]:
        text = visited["pages"][domain][1]
        assert ("Stale: held back" in text) == (domain == HELD_DOMAIN), domain
    assert f"{HELD_MART} held back by sop_lg_01__shipments" in visited["pages"][HELD_DOMAIN][1]
    freshness = visited["pages"]["freshness"][1]
    assert f"{HELD_MART} held back by sop_lg_01__shipments" in freshness
    assert "stale: held back" in visited["pages"]["overview"][1]


def test_sop_and_freshness_pages(visited, published_demo):
    with connect(published_demo.serving_path, read_only=True) as con:
        sops = [r[0] for r in con.execute("SELECT DISTINCT sop_id FROM marts.fct_sop_compliance_daily ORDER BY 1").fetchall()]
        exports = [r[0] for r in con.execute("SELECT export FROM ops.export_freshness").fetchall()]
    sop_text = visited["pages"]["sop"][1]
    assert sops and all(s in sop_text for s in sops), "compliance per SOP"
    assert str(published_demo.sop_docs_dir / "sops" / f"{sops[0]}.html") in sop_text, "the SOP site's page, embedded"
    rows, _ = visited["pages"]["freshness"]  # the first table: ops.kpi_mart_state
    text = visited["pages"]["freshness"][1]
    assert all(e in text for e in exports) and "on time" in text


def test_no_request_leaves_the_machine(visited, server):
    hosts = {re.match(r"^[a-z]+://([^/]*)", u).group(1) for u in visited["requests"] if not u.startswith(("data:", "about:", "blob:"))}
    assert hosts == {server.split("//")[1]}, hosts


def test_the_app_and_the_offline_dashboard_give_the_same_week(visited, published_demo):
    """The dashboard (written by every publish, nothing installed) stays as the fallback: for the same
    week, its tiles show the app's figures (the month-grain CLV and the SOP rate: the dashboard shows their
    newest cohort month / gate run instead of the week)."""
    html = published_demo.dashboard_path.read_text()
    period = re.search(r"<strong>\w{3} (\d{4}-\d{2}-\d{2}) to", html).group(1)
    tiles = dict(re.findall(r'data-kpi-id="([^"]+)">.*?<p class="value">([^<]*)</p>', html))
    compared = 0
    with connect(published_demo.serving_path, read_only=True) as con:
        week_kpis = {r[0] for r in con.execute("SELECT kpi_id FROM marts.dim_kpi WHERE grain = 'day' AND domain <> 'sop'").fetchall()}
    for domain in visited["domains"]:
        if visited["weeks"][domain] != period:
            continue
        for row in visited["pages"][domain][0]:
            if row[0] in week_kpis:
                assert tiles[row[0]] == row[2], row[0]
                compared += 1
    assert compared == len(week_kpis)
