"""The Dagster UI as a data engineer meets it: `make demo`, then `make dev`'s webserver driven by headless Chromium.

What an asset is (description, owners, kinds, code), which SOP gate guards it, a materialization
launched from the UI, the KPI values it leaves as plottable numbers, and the data's days as the
raw assets' partitions, every one materialized."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from pipelines.exports import EXPORTS
from pipelines.kpis import kpi_marts, kpis_of_mart
from pipelines.settings import PROJECT_ROOT
from tests.conftest import require_debian_tool

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _chromium():
    require_debian_tool(CHROMIUM, "chromium", "browser")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = PROJECT_ROOT / "data" / "test-screenshots" / "dagster-ui"
GROUPS = ["storefront", "helpdesk", "mes", "ads", "finance", "logistics", "customer_service", "serving"]
MART = "marts/fct_customer_service_daily"
CHAIN = ["tickets", "stg_helpdesk__tickets", "int_customer_service__tickets", "fct_customer_service_daily"]
GATE_ASSET, GATE_CHECK = "staging/stg_helpdesk__tickets", "sop_cs_01__tickets"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["data"]


DEMO_DAYS = 14
DAILY_EXPORTS = [e.name for e in EXPORTS if e.cadence == "daily"]


@pytest.fixture
def webserver(tmp_path):
    """The README's start: `make demo` (small demo exports up to yesterday, a full refresh from the
    shell), then `make dev` on a free loopback port, both with their own DAGSTER_HOME and folders."""
    from pipelines.exports.demo import generate_demo_exports

    # `make demo` uses the exports already in the landing folder: a small world, quick to refresh.
    generate_demo_exports(tmp_path / "landing", days=DEMO_DAYS, scale=0.2, seed=3, progress=None)
    port = _free_port()
    # Without KPI_PARTITIONS_START (tests/conftest.py sets it): the partitions start on the data's first day.
    env = {**{k: v for k, v in os.environ.items() if k != "KPI_PARTITIONS_START"},
           "DAGSTER_HOME": str(tmp_path / "dagster_home"), "KPI_LANDING_DIR": str(tmp_path / "landing"),
           "KPI_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "kpi.duckdb"),
           "KPI_SERVING_PATH": str(tmp_path / "serving" / "kpi.duckdb"), "KPI_SOP_DOCS_DIR": str(tmp_path / "sop_docs")}
    demo = subprocess.run(["make", "--no-print-directory", "demo"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    (tmp_path / "serving").rename(tmp_path / "serving_of_make_demo")  # the files checked below are the UI run's
    log = open(tmp_path / "dev.log", "w")
    # Its own session: the server and its children are stopped together, by this PID.
    proc = subprocess.Popen(["make", "--no-print-directory", "dev", f"PORT={port}"], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # a loaded machine: code server start and dbt parse
        while True:
            assert proc.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "webserver did not come up:\n" + (tmp_path / "dev.log").read_text()[-3000:]
                time.sleep(0.5)
        yield base
    finally:
        import psutil

        # `make dev` puts dagster dev in a process group of its own: remember the whole tree, so that
        # nothing of it outlives the test when make is killed before its trap has stopped the server.
        try:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for p in tree:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        log.close()


def _dismiss_welcome(page) -> None:
    """A fresh DAGSTER_HOME greets the user with a community dialog."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.click(timeout=15000)
    except Exception:  # noqa: BLE001 - the dialog is optional; nothing else is caught here
        return


def _node_label(name: str) -> re.Pattern:
    """An asset node's label in the lineage graph: its name, or, when the graph is zoomed out to fit, the
    name cut in the middle ("stg_help…__tickets"): a prefix and a suffix of this name, nothing else."""
    prefixes = "|".join(re.escape(name[:i]) for i in range(len(name) - 1, 2, -1))
    suffixes = "|".join(re.escape(name[i:]) for i in range(1, len(name) - 2))
    return re.compile(f"^(?:{re.escape(name)}|(?:{prefixes})…(?:{suffixes}))$")


def test_asset_graph_lineage_and_a_materialization_from_the_ui(webserver, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # only this run's screenshots count below
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {SCREENSHOTS}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{webserver}/asset-groups")
            _dismiss_welcome(page)
            for group in GROUPS:
                expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=30000)
            page.screenshot(path=str(SCREENSHOTS / "01-asset-groups.png"))

            page.goto(f"{webserver}/assets/{MART}?view=lineage&lineageScope=upstream&lineageDepth=4")
            for name in CHAIN:
                expect(page.get_by_text(_node_label(name)).first).to_be_visible(timeout=30000)
            page.screenshot(path=str(SCREENSHOTS / "02-lineage-raw-to-mart.png"))

            page.goto(f"{webserver}/assets/{MART}?view=checks")
            # Long check names are middle-truncated on screen; the full name is in the row's DOM.
            check = page.get_by_text("unique_combination_fct_customer_service_daily_kpi_date__channel").first
            check.wait_for(state="attached", timeout=30000)
            expect(page.get_by_role("tab", name="Checks")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "03-mart-checks.png"))

            # What an asset is, who owns it, what it is made with and where its code is.
            page.goto(f"{webserver}/assets/raw/tickets")
            expect(page.get_by_text("Raw tickets export loaded into").first).to_be_visible(timeout=30000)
            for text in ["Owners", "cs.lead@shop.example", "data.platform@shop.example", "Kinds", "DuckDB",
                         "Great Expectations", "assets.py"]:
                expect(page.get_by_text(text, exact=True).first).to_be_visible(timeout=30000)
            page.screenshot(path=str(SCREENSHOTS / "04-asset-description-owners-kinds.png"))

            # Which SOP gate guards an asset, and its rule.
            page.goto(f"{webserver}/assets/{GATE_ASSET}?view=checks")
            page.get_by_text(GATE_CHECK, exact=True).first.click(timeout=30000)
            expect(page.get_by_text("Data gate (blocking) of SOP-CS-01", exact=False).first).to_be_visible(timeout=30000)
            expect(page.get_by_text("one_row_per_ticket", exact=False).first).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "05-sop-gate-check.png"))

            # The README's refresh, literally: Jobs -> refresh_all -> Materialize all -> Latest -> Launch 1 run,
            # then the toast's View opens the run page.
            page.goto(webserver)
            page.get_by_role("link", name="Jobs").first.click(timeout=30000)
            page.get_by_text("refresh_all", exact=True).first.click(timeout=30000)
            page.wait_for_url("**/jobs/refresh_all**", timeout=30000)
            page.get_by_role("button", name="Materialize all").first.click(timeout=30000)
            page.get_by_role("button", name="Latest", exact=True).first.click(timeout=30000)
            page.screenshot(path=str(SCREENSHOTS / "04a-launch-latest-partition.png"))
            page.get_by_role("button", name="Launch 1 run").first.click(timeout=30000)
            # the toast "Launched run ..." (exact: the navigation's "Overview" contains "view")
            toast_view = page.get_by_role("link", name="View", exact=True).or_(page.get_by_role("button", name="View", exact=True))
            toast_view.first.click(timeout=120000)
            page.wait_for_url("**/runs/*", timeout=30000)
            run_id = page.url.rstrip("/").split("/runs/")[1].split("?")[0]
            page.screenshot(path=str(SCREENSHOTS / "05a-run-page.png"))
            deadline = time.monotonic() + 900
            status = None
            while time.monotonic() < deadline:
                status = _graphql(webserver, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                                  {"id": run_id})["runOrError"]["status"]
                if status in ("SUCCESS", "FAILURE", "CANCELED"):
                    break
                time.sleep(2)
            assert status == "SUCCESS", status
            expect(page.get_by_text("Success").first).to_be_visible(timeout=30000)
            page.screenshot(path=str(SCREENSHOTS / "06-run-succeeded.png"))
            # Every asset of the job was refreshed by that run, and the snapshot was published.
            missing = _job_assets("refresh_all") - _materialized_in(webserver, run_id)
            assert not missing, sorted(missing)
            # (the webserver's serving folder starts empty: the files are this run's)
            assert (tmp_path / "serving" / "kpi.duckdb").exists() and (tmp_path / "serving" / "dashboard.html").exists()

            # The data's days are the daily raw assets' partitions (the demo's DEMO_DAYS up to yesterday),
            # every one materialized: `make demo`'s full refresh marked each day, the UI's run the newest.
            stats = {name: _partition_stats(webserver, ["raw", name]) for name in DAILY_EXPORTS}
            assert stats == {name: {"numPartitions": DEMO_DAYS, "numMaterialized": DEMO_DAYS, "numFailed": 0}
                             for name in DAILY_EXPORTS}, stats
            page.goto(f"{webserver}/assets/raw/tickets?view=partitions")
            expect(page.get_by_text(f"Materialized ({DEMO_DAYS})", exact=True).first).to_be_visible(timeout=30000)
            expect(page.get_by_text("Missing (0)", exact=True).first).to_be_visible()
            newest = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
            expect(page.get_by_text(newest, exact=True).first).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "06b-raw-partitions-the-data-days.png"))

            # KPI values are numeric metadata of the run's KPI marts, so the UI plots them run over run.
            for mart in kpi_marts():
                if mart == "fct_kpi_daily":
                    continue
                entries = _latest_materialization_metadata(webserver, ["marts", mart])
                kpis = {label: entry for label, entry in entries.items() if label in kpis_of_mart(mart)}
                assert kpis, f"{mart}: no KPI metadata in {sorted(entries)}"
                not_float = {k: e for k, e in kpis.items() if e["__typename"] != "FloatMetadataEntry"
                             or not isinstance(e.get("floatValue"), float)}
                assert not not_float, f"{mart}: {not_float}"
            page.goto(f"{webserver}/assets/{MART}")
            expect(page.get_by_text("cs_first_response_minutes", exact=True).first).to_be_visible(timeout=30000)
            page.get_by_text("Plots", exact=True).first.click()
            expect(page.get_by_text("Loading plots")).to_have_count(0, timeout=60000)
            expect(page.get_by_text("cs_csat_rate", exact=True).first).to_be_visible(timeout=30000)
            page.screenshot(path=str(SCREENSHOTS / "07-mart-kpi-plots.png"))
        finally:
            browser.close()
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 7


def _partition_stats(base: str, path: list[str]) -> dict:
    query = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
        partitionStats { numPartitions numMaterialized numFailed } } } }"""
    return _graphql(base, query, {"key": {"path": path}})["assetNodeOrError"]["partitionStats"]


def _job_assets(job: str) -> set[str]:
    from pipelines import automation
    from pipelines.definitions import defs

    return {k.to_user_string() for k in getattr(automation, job).selection.resolve(defs.resolve_asset_graph())}


def _materialized_in(base: str, run_id: str) -> set[str]:
    # The event log comes in pages (cursor, hasMore).
    query = """query($id: ID!, $after: String) { runOrError(runId: $id) { ... on Run {
        eventConnection(afterCursor: $after) { cursor hasMore events { __typename
          ... on MaterializationEvent { assetKey { path } } } } } } }"""
    keys: set[str] = set()
    after = None
    while True:
        page = _graphql(base, query, {"id": run_id, "after": after})["runOrError"]["eventConnection"]
        keys |= {"/".join(e["assetKey"]["path"]) for e in page["events"] if e["__typename"] == "MaterializationEvent"}
        if not page["hasMore"]:
            return keys
        after = page["cursor"]


def _latest_materialization_metadata(base: str, path: list[str]) -> dict[str, dict]:
    query = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
        assetMaterializations(limit: 1) { metadataEntries { label __typename
          ... on FloatMetadataEntry { floatValue } ... on IntMetadataEntry { intValue } } } } } }"""
    data = _graphql(base, query, {"key": {"path": path}})["assetOrError"]
    materializations = data.get("assetMaterializations") or []
    assert materializations, f"{'/'.join(path)} was not materialized"
    return {e["label"]: e for e in materializations[0]["metadataEntries"]}
