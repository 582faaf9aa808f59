"""The KPI dashboard as a person sees it: headless Chromium (Debian's package) over a local HTTP server."""
from __future__ import annotations

import datetime as dt
import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from pipelines.kpis import kpi_catalog
from pipelines.warehouse import connect
from tests.conftest import require_debian_tool

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _chromium():
    require_debian_tool(CHROMIUM, "chromium", "browser")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "data" / "test-screenshots"


@pytest.fixture
def served_dashboard(published_demo):
    """Serve the dashboard's folder on a free loopback port."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(published_demo.dashboard_path.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/{published_demo.dashboard_path.name}"
    server.shutdown()


def test_dashboard_shows_a_tile_for_every_kpi(published_demo, served_dashboard):
    from playwright.sync_api import sync_playwright

    kpi_ids = set(kpi_catalog())  # every kpi_id of the catalogue, one tile each
    with connect(published_demo.serving_path, read_only=True) as con:
        sops = {r[0] for r in con.execute("SELECT DISTINCT sop_id FROM marts.fct_sop_compliance_daily").fetchall()}

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            response = page.goto(served_dashboard)
            assert response is not None and response.ok
            page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
            shown = set(page.eval_on_selector_all("article.tile", "els => els.map(e => e.dataset.kpiId)"))
            body = page.inner_text("body")
            svgs = page.locator("article.tile svg.trend").count()
            freshness_rows = page.locator("#freshness tbody tr").count()
            on_time = page.eval_on_selector_all("#freshness tbody tr.on-time td.status", "els => els.map(e => e.textContent)")
            tile_text = dict(page.eval_on_selector_all(
                "article.tile", "els => els.map(e => [e.dataset.kpiId, e.querySelector('.value').textContent + ' | ' "
                "+ e.querySelector('.meta').textContent])"))
            headings = page.eval_on_selector_all("section.domain h2", "els => els.map(e => e.innerText)")
        finally:
            browser.close()
    assert shown == kpi_ids
    assert len(sops) == 10 and all(sop in body for sop in sops), "SOP compliance per SOP"
    assert svgs == len(kpi_ids), "each tile has its trend chart"
    assert freshness_rows == 20, "one freshness row per export"
    assert on_time == ["on time"] * 20, "each export's freshness verdict, all on time just after delivery"
    assert errors == []
    assert (SCREENSHOTS / "dashboard.png").stat().st_size > 10_000
    assert headings[0] == "Storefront" and "SOP" in headings and "Customer service" in headings, headings
    assert "on target" in body and "▲ higher is better" in body, "a legend of the status colours and directions"

    # The tiles judge the console's period (the last complete week, Monday to Sunday, re-summed),
    # not the last single day: recomputed here from the daily components.
    with connect(published_demo.serving_path, read_only=True) as con:
        last = con.execute("SELECT max(kpi_date) FROM marts.fct_kpi_daily WHERE domain <> 'sop'").fetchone()[0]
        sunday = last - dt.timedelta(days=(last.weekday() + 1) % 7)
        monday = sunday - dt.timedelta(days=6)
        csat, revenue, revenue_target = con.execute(
            """SELECT sum(numerator) FILTER (kpi_id = 'cs_csat_rate') / sum(denominator) FILTER (kpi_id = 'cs_csat_rate'),
                      sum(numerator) FILTER (kpi_id = 'sf_net_revenue_amount'),
                      7 * any_value(target) FILTER (kpi_id = 'sf_net_revenue_amount')
               FROM marts.fct_kpi_daily WHERE segment_type = 'all' AND kpi_date BETWEEN ? AND ?""", [monday, sunday]).fetchone()
    assert f"{monday:%a %Y-%m-%d} to {sunday:%a %Y-%m-%d}" in body
    assert tile_text["cs_csat_rate"].startswith(f"{csat:.1%} | target 80.0%"), tile_text["cs_csat_rate"]
    assert tile_text["sf_net_revenue_amount"].startswith(f"{revenue:,.2f} USD | target {revenue_target:,.2f} USD"), \
        tile_text["sf_net_revenue_amount"]
