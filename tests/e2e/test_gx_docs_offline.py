"""The GX Data Docs of the SOP site open from the file system with no network: no CDN request, every
validation reachable from our index, file names a browser opens (no `@`, no `#`)."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import require_debian_tool

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def test_gx_data_docs_work_offline_from_the_file_system(published_demo):
    from playwright.sync_api import sync_playwright

    require_debian_tool(CHROMIUM, "chromium", "browser")
    gx = published_demo.sop_docs_dir / "gx"
    pages = sorted(gx.rglob("*.html"))
    assert pages and not [p for p in gx.rglob("*") if "@" in p.name or "#" in p.name]
    validations = sorted(gx.glob("validations/*/*/*/*.html"))
    assert validations
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            remote: list[str] = []
            page.on("request", lambda r: remote.append(r.url) if not r.url.startswith("file:") else None)
            page.goto((gx / "index.html").as_uri())
            links = page.locator("a[href^='validations/']")
            assert links.count() == len({(v.parts[-4], v.name) for v in validations})
            assert page.locator("td.pass, td.fail").count() == links.count()  # a result for each
            links.first.click()
            page.wait_for_load_state()
            assert page.url.startswith((gx / "validations").as_uri())
            assert page.get_by_text("Expectation Validation Result").first.is_visible()
            # our stylesheet, not the CDN's, draws the tables
            assert page.locator("table").first.evaluate("t => getComputedStyle(t).borderCollapse") == "collapse"
            page.goto((gx / "expectations").as_uri() + "/" + sorted(gx.glob("expectations/*.html"))[0].name)
            assert page.locator("table").count() > 0
            assert not remote, remote
        finally:
            browser.close()
