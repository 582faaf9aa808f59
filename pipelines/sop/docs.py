"""The SOP site: a static folder for the people who read SOP results (no server, no CDN).

  <docs_dir>/index.html              every SOP: owner, version, review status, latest compliance
  <docs_dir>/sops/<SOP-ID>.html      one page per SOP: the six properties, the steps as a
                                     flowchart (SVG drawn here), its gates with their latest
                                     results and the daily compliance rate
  <docs_dir>/gx/index.html           Great Expectations Data Docs: GX's pages of every suite and
                                     validation, made to work offline from the file system
                                     (`offline_data_docs`), under an index of our own

`build_site` is called by the refresh's core dbt step (pipelines/sop/refresh.py) and by `kpi sop docs`.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import textwrap
import urllib.parse
from pathlib import Path

from ..ops_tables import RESULTS
from ..warehouse import connect, has_table
from .registry import Registry, Sop, registry as default_registry

COMPLIANCE_DAYS = 30


def _e(text) -> str:
    return html.escape("" if text is None else str(text))


# --- the flowchart -------------------------------------------------------------------------------

def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, break_long_words=True) or [""]


def flowchart_svg(sop: Sop) -> str:
    """The procedure top to bottom: trigger, numbered steps, outputs; exceptions as dashed side notes."""
    box_w, note_w, gap, line_h, pad = 380, 300, 28, 16, 10
    x_box, x_note = 20, 20 + 380 + 50
    parts: list[str] = []
    y = 10

    def box(x, y, w, lines, *, title=None, style="step"):
        rows = ([title] if title else []) + lines
        h = pad * 2 + line_h * len(rows)
        fill, stroke, rx, dash = {
            "start": ("#e8f1fb", "#2f6db5", 18, ""),
            "step": ("#ffffff", "#444444", 4, ""),
            "end": ("#e9f6ec", "#2e7d32", 18, ""),
            "note": ("#fff8e6", "#b7791f", 4, ' stroke-dasharray="5,4"'),
        }[style]
        parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}/>')
        for i, row in enumerate(rows):
            weight = ' font-weight="bold"' if (title and i == 0) else ""
            parts.append(f'<text x="{x + pad}" y="{y + pad + line_h * (i + 1) - 4}" font-size="13"{weight}>{_e(row)}</text>')
        return h

    def arrow(x, y1, y2):
        parts.append(f'<line x1="{x}" y1="{y1}" x2="{x}" y2="{y2 - 2}" stroke="#444" stroke-width="1.5" marker-end="url(#arrow)"/>')

    center = x_box + box_w // 2
    h = box(x_box, y, box_w, _wrap(sop.trigger, 50), title="Trigger", style="start")
    y += h
    for i, step in enumerate(sop.steps, 1):
        arrow(center, y, y + gap)
        y += gap
        h = box(x_box, y, box_w, _wrap(step.action, 50), title=f"{i}. {step.name}")
        if step.exceptions:
            note_lines = [line for exc in step.exceptions for line in _wrap("• " + exc, 40)]
            nh = pad * 2 + line_h * (len(note_lines) + 1)
            ny = y + max(0, (h - nh) // 2)
            parts.append(f'<line x1="{x_box + box_w}" y1="{y + h // 2}" x2="{x_note - 2}" y2="{ny + nh // 2}" '
                         f'stroke="#b7791f" stroke-width="1.2" stroke-dasharray="5,4" marker-end="url(#arrow-note)"/>')
            box(x_note, ny, note_w, note_lines, title="Exception", style="note")
            h = max(h, nh + (ny - y))
        y += h
    arrow(center, y, y + gap)
    y += gap
    out_lines = [line for o in sop.outputs for line in _wrap("• " + o, 50)]
    y += box(x_box, y, box_w, out_lines, title="Outputs", style="end")
    height = y + 10
    width = x_note + note_w + 10
    defs = ('<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
            '<path d="M0,0 L10,4 L0,8 z" fill="#444"/></marker>'
            '<marker id="arrow-note" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
            '<path d="M0,0 L10,4 L0,8 z" fill="#b7791f"/></marker></defs>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="Helvetica, Arial, sans-serif" role="img" aria-label="{_e(sop.id)} flowchart">'
            f'<title>{_e(sop.id)} {_e(sop.title)}: steps</title>{defs}{"".join(parts)}</svg>')


def compliance_svg(rows: list[tuple[dt.date, float | None]]) -> str:
    """Daily compliance as bars (0..100 %), the newest day on the right."""
    if not rows:
        return ""
    w_bar, h = 14, 80
    width = max(120, len(rows) * (w_bar + 4) + 40)
    bars = []
    for i, (day, value) in enumerate(rows):
        v = 0.0 if value is None else float(value)
        bh = max(1, int(h * v))
        color = "#2e7d32" if v >= 0.999 else "#c62828"
        bars.append(f'<rect x="{30 + i * (w_bar + 4)}" y="{10 + h - bh}" width="{w_bar}" height="{bh}" fill="{color}">'
                    f'<title>{day}: {v:.1%}</title></rect>')
    axis = (f'<line x1="28" y1="{10 + h}" x2="{width - 5}" y2="{10 + h}" stroke="#888"/>'
            f'<text x="0" y="18" font-size="10">100%</text><text x="8" y="{10 + h}" font-size="10">0%</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 30}" font-family="Helvetica, Arial, sans-serif">'
            f'{axis}{"".join(bars)}</svg>')


# --- data ------------------------------------------------------------------------------------------

def _read(warehouse_path: Path) -> tuple[dict, dict]:
    """(compliance rows per SOP, latest result rows per SOP), empty when the warehouse has none yet."""
    compliance: dict[str, list] = {}
    latest: dict[str, list] = {}
    if not Path(warehouse_path).exists():
        return compliance, latest
    with connect(warehouse_path, read_only=True) as con:
        if has_table(con, "marts.fct_sop_compliance_daily"):
            for sop_id, day, checks, passed, rate in con.execute(
                "SELECT sop_id, kpi_date, check_count, passed_check_count, sop_compliance_rate "
                "FROM marts.fct_sop_compliance_daily ORDER BY sop_id, kpi_date"
            ).fetchall():
                compliance.setdefault(sop_id, []).append((day, checks, passed, rate))
        if has_table(con, RESULTS):
            for row in con.execute(
                f"""SELECT sop_id, suite, asset, gate_severity, expectation, success, rows_evaluated, unexpected,
                          unexpected_percent, unexpected_sample, error, checked_at, run_id
                   FROM {RESULTS}
                   QUALIFY dense_rank() OVER (PARTITION BY suite, asset ORDER BY checked_at DESC, run_id DESC) = 1
                   ORDER BY sop_id, suite, asset, expectation"""
            ).fetchall():
                latest.setdefault(row[0], []).append(row[1:])
    return compliance, latest


# --- pages -------------------------------------------------------------------------------------------

CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}.warn{color:#b7791f;font-weight:bold}
.muted{color:#777}.tag{display:inline-block;padding:1px 6px;border-radius:3px;font-size:12px;background:#eee}
dt{font-weight:bold;margin-top:8px}dd{margin-left:0}code{font-size:12px;background:#f6f6f6;padding:1px 3px}
"""


def page_path(docs_dir: Path, sop_id: str) -> Path:
    """Where the site keeps the page of `sop_id` (the index links it as sops/<SOP-ID>.html)."""
    return Path(docs_dir) / "sops" / f"{sop_id}.html"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")


def _rate(value) -> str:
    return "n/a" if value is None else f"{float(value):.1%}"


def _review(sop: Sop, reg: Registry, today: dt.date) -> str:
    due = sop.review_due(reg.review_interval_days)
    if sop.is_review_overdue(reg.review_interval_days, today):
        return f'<span class="fail">review overdue since {due}</span>'
    return f'<span class="pass">review due {due}</span>'


def sop_page(sop: Sop, reg: Registry, compliance: list, latest: list, today: dt.date) -> str:
    li = lambda items: "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"
    steps = "<ol>" + "".join(
        f"<li><b>{_e(s.name)}</b>: {_e(s.action)}"
        + ("".join(f"<br><span class='muted'>Exception: {_e(x)}</span>" for x in s.exceptions)) + "</li>"
        for s in sop.steps) + "</ol>"
    gates_rows = []
    for g in sop.gates:
        kind = "data gate (blocks)" if g.is_data_gate else "process gate (warns)"
        mine = [r for r in latest if r[0] == g.suite]
        assets = sorted({r[1] for r in mine}) or [g.asset]
        for asset in assets:
            exps = [r for r in mine if r[1] == asset]
            if not exps:
                status, detail = '<span class="muted">not run yet</span>', ""
            else:
                failed = [r for r in exps if not r[4]]
                status = ('<span class="pass">passed</span>' if not failed else
                          f'<span class="{"fail" if g.is_data_gate else "warn"}">failed</span>')
                detail = "<br>".join(
                    f"{_e(r[3])}: {_e(r[6])} of {_e(r[5])} rows"
                    + (f" — {_e(_sample_text(r[8]))}" if r[8] else "") + (f" — error: {_e(r[9])}" if r[9] else "")
                    for r in failed)
                detail += f"<br><span class='muted'>checked {_e(exps[0][10])}</span>"
            gates_rows.append(f"<tr><td><code>{_e(g.suite)}</code></td><td>{_e(kind)}</td><td><code>{_e(asset)}</code></td>"
                              f"<td>{status}</td><td>{detail}</td></tr>")
    recent = compliance[-COMPLIANCE_DAYS:]
    comp_table = "".join(f"<tr><td>{_e(d)}</td><td>{c}</td><td>{p}</td><td>{_rate(r)}</td></tr>" for d, c, p, r in reversed(recent))
    current = _rate(recent[-1][3]) if recent else "n/a"
    body = f"""
<p><a href="../index.html">← all SOPs</a> · <a href="../gx/index.html">GX Data Docs</a></p>
<h1>{_e(sop.id)} {_e(sop.title)}</h1>
<p><span class="tag">version {_e(sop.version)}</span> <span class="tag">last reviewed {_e(sop.last_reviewed)}</span>
 {_review(sop, reg, today)} · current compliance <b>{current}</b></p>
<h2>Goal</h2><p>{_e(sop.goal)}</p>
<h2>Owner and performers</h2><dl><dt>Owner</dt><dd>{_e(sop.owner.role)} — <a href="mailto:{_e(sop.owner.email)}">{_e(sop.owner.email)}</a> (team {_e(sop.owner.team)})</dd>
<dt>Performers</dt><dd>{_e(', '.join(sop.performers))}</dd></dl>
<h2>Trigger</h2><p>{_e(sop.trigger)}</p>
<h2>Inputs and outputs</h2><dl><dt>Inputs</dt><dd>{li(sop.inputs)}</dd><dt>Outputs</dt><dd>{li(sop.outputs)}</dd></dl>
<h2>Steps</h2>{flowchart_svg(sop)}{steps}
<h2>Indicators</h2><p>{_e(', '.join(sop.indicators) or 'none (measured by its gates only)')}</p>
<h2>Gates (latest results)</h2>
<table><tr><th>suite</th><th>kind</th><th>asset</th><th>status</th><th>failed expectations</th></tr>{''.join(gates_rows)}</table>
<p class="muted">Thresholds live in <code>expectations/&lt;suite&gt;.json</code>; the gates in <code>expectations/sops.yml</code>.</p>
<h2>Compliance (passed checks ÷ checks, per day)</h2>{compliance_svg([(d, r) for d, _, _, r in recent])}
<table><tr><th>day</th><th>checks</th><th>passed</th><th>compliance</th></tr>{comp_table or '<tr><td colspan=4 class="muted">no checks yet</td></tr>'}</table>
"""
    return _page(f"{sop.id} {sop.title}", body)


def _sample_text(sample: str | None) -> str:
    try:
        data = json.loads(sample or "{}")
    except json.JSONDecodeError:
        return (sample or "")[:200]
    rows = data.get("rows") or []
    if rows:
        return "e.g. " + "; ".join(", ".join(f"{k}={v}" for k, v in r.items() if v is not None) for r in rows[:3])
    return "e.g. " + ", ".join(str(v) for v in (data.get("values") or [])[:5])


def index_page(reg: Registry, compliance: dict, latest: dict, today: dt.date, gx_index: Path | None) -> str:
    rows = []
    for s in reg.sops:
        comp = compliance.get(s.id, [])
        failed = sorted({r[0] for r in latest.get(s.id, []) if not r[4]})
        rows.append(
            f"<tr><td><a href=\"sops/{_e(s.id)}.html\">{_e(s.id)}</a></td><td>{_e(s.title)}</td><td>{_e(s.owner.role)}</td>"
            f"<td>{_e(s.version)}</td><td>{_review(s, reg, today)}</td>"
            f"<td><b>{_rate(comp[-1][3]) if comp else 'n/a'}</b>{f' <span class=muted>({comp[-1][0]})</span>' if comp else ''}</td>"
            f"<td>{'<span class=pass>all passed</span>' if latest.get(s.id) and not failed else ', '.join(f'<code>{_e(f)}</code>' for f in failed) or '<span class=muted>not run</span>'}</td></tr>")
    overdue = reg.overdue(today)
    body = f"""
<h1>Standard operating procedures</h1>
<p>Every SOP is checked on every refresh by Great Expectations suites. Data gates stop the KPIs downstream of broken
data; process gates measure whether the procedure was followed. Compliance = passed checks ÷ checks of the day.
{f'<br><span class="fail">{len(overdue)} SOP(s) overdue for review: {_e(", ".join(s.id for s in overdue))}</span>' if overdue else ''}</p>
<table><tr><th>SOP</th><th>procedure</th><th>owner</th><th>version</th><th>review</th><th>latest compliance</th><th>failing gates</th></tr>
{''.join(rows)}</table>
<p>{'<a href="gx/index.html">Great Expectations Data Docs</a> (suites and validation results of the latest run)' if gx_index else ''}</p>
<p class="muted">Built {_e(dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))} from <code>expectations/sops.yml</code>.</p>
"""
    return _page("SOPs", body)


# --- GX Data Docs, offline ------------------------------------------------------------------------

# GX's templates load Bootstrap, jQuery, bootstrap-table, Vega and Font Awesome from public CDNs, and
# its index table is drawn by bootstrap-table from a script: offline, pages are unstyled and the index
# empty. None of those libraries is installed here, so the tags go and a small stylesheet of ours
# (below) styles the server-rendered pages; the index is ours, a plain table.
_REMOTE_TAG = re.compile(r'<link\b[^>]*\bhref="https?://[^"]*"[^>]*>|<script\b[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', re.I)
_REMOTE_LOGO = re.compile(r'src="https?://[^"]*/logo-long\.png[^"]*"')
_STATUS = re.compile(r'Status:</span>\s*<i[^>]*></i>\s*(\w+)')
GX_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#222;font-size:14px}
a{color:#1f5fa8}.navbar{display:flex;align-items:center;gap:16px;padding:8px 24px;border-bottom:1px solid #ddd}
.breadcrumb{display:flex;flex-wrap:wrap;list-style:none;gap:6px;margin:0;padding:0}.breadcrumb-item+.breadcrumb-item:before{content:"/ "}
.container-fluid{padding:16px 32px}.row{display:flex;flex-wrap:wrap;gap:16px}.col-12,.col-lg-12{flex:1 1 100%}
.col-lg-2,.col-md-2{flex:0 0 200px}.col-lg-10,.col-md-10{flex:1 1 600px;min-width:0}.col-6{flex:1 1 45%;min-width:0}
.modal,.ge-walkthrough-modal,.sticky .btn-group,.d-print-none,.hide-succeeded-validations-column-section-target-child+button{display:none}
.card{border:1px solid #ddd;border-radius:4px;margin:12px 0}.card-header{background:#f4f4f4;padding:6px 12px}.card-body{padding:8px 12px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td{max-width:44em;overflow-wrap:anywhere}
td>div,td>span,td pre,td code{display:block;max-height:9em;overflow:auto;white-space:pre-wrap}
.text-success,.pass{color:#2e7d32;font-weight:bold}.text-danger,.fail{color:#c62828;font-weight:bold}.muted{color:#777}
i.fas,i.far,i.fa{font-style:normal}.fa-check-circle:before{content:"✔ "}.fa-times:before,.fa-times-circle:before{content:"✘ "}
.fa-exclamation-triangle:before{content:"⚠ "}.fa-question-circle,.fa-angle-up,.fa-angle-down,.fa-info-circle{display:none}
"""


def _safe_name(name: str) -> str:
    """A file name that opens from the file system (`#` starts a URL's fragment, `@` confuses some viewers)."""
    return name.replace("@", "_at_").replace("#", "_no")


def offline_data_docs(gx_dir: Path) -> Path:
    """Make GX's Data Docs in `gx_dir` readable offline and from the file system; returns our index.html.

    Files named with `@`/`#` (GX names a validation after its batch, `<suite>@<view>#<n>`) are renamed and
    every link to them (plain or %-encoded) follows; CDN tags are replaced by GX_CSS; the remote logo by
    GX's own copy in static/images.
    """
    gx_dir = Path(gx_dir)
    renames: dict[str, str] = {}
    for path in sorted(gx_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):  # files before folders
        if path.name != _safe_name(path.name):
            renames[path.name] = _safe_name(path.name)
            path.rename(path.with_name(_safe_name(path.name)))
    pages = sorted(gx_dir.rglob("*.html"))
    for page in pages:
        text = page.read_text()
        for old, new in renames.items():
            text = text.replace(urllib.parse.quote(old), new).replace(old, new)
        logo = os.path.relpath(gx_dir / "static" / "images" / "logo-long.png", page.parent)
        text = _REMOTE_LOGO.sub(f'src="{logo}"', _REMOTE_TAG.sub("", text))
        if "<style id=\"kpi-offline\">" not in text:
            text = text.replace("</head>", f'<style id="kpi-offline">{GX_CSS}</style></head>', 1)
        page.write_text(text)
    return _gx_index(gx_dir)


def _gx_index(gx_dir: Path) -> Path:
    """Every suite and the newest validation of each suite × asset, as a plain table (no script)."""
    suites = sorted(p.stem for p in (gx_dir / "expectations").glob("*.html"))
    newest: dict[tuple[str, str], Path] = {}
    for page in sorted((gx_dir / "validations").glob("*/*/*/*.html")):  # <suite>/<run name>/<run time>/<batch>
        newest[(page.parts[-4], page.stem)] = page  # sorted by run time: the newest wins
    rows = []
    for (suite, batch), page in sorted(newest.items()):
        m = _STATUS.search(page.read_text())
        status = m.group(1) if m else "?"
        css = "pass" if status == "Succeeded" else "fail" if status == "Failed" else "muted"
        asset = re.sub(r"_no\d+$", "", batch.removesuffix(".sql").split("_at_", 1)[-1])  # GX's batch: <suite>@<asset>#<n>
        rows.append(f'<tr><td><a href="expectations/{_e(suite)}.html">{_e(suite)}</a></td>'
                    f'<td>{_e(asset)}</td><td class="{css}">{_e(status)}</td>'
                    f'<td><a href="{_e(page.relative_to(gx_dir).as_posix())}">{_e(page.parts[-2])}</a></td></tr>')
    body = f"""
<p><a href="../index.html">← all SOPs</a></p>
<h1>Great Expectations Data Docs</h1>
<p>The newest validation of every SOP gate suite on every asset it checks (GX's own pages, readable offline).</p>
<table><tr><th>suite</th><th>asset</th><th>result</th><th>validation (run time, UTC)</th></tr>{''.join(rows)}</table>
<h2>Suites</h2><ul>{''.join(f'<li><a href="expectations/{_e(s)}.html">{_e(s)}</a></li>' for s in suites)}</ul>
"""
    index = gx_dir / "index.html"
    index.write_text(_page("GX Data Docs", body))
    return index


def write_data_docs(docs_dir: Path, runner) -> Path | None:
    """The GX Data Docs of the runner's validations, made to open offline; their index (None: none)."""
    gx_index = runner.build_data_docs(Path(docs_dir) / "gx")
    return offline_data_docs(Path(docs_dir) / "gx") if gx_index is not None else None


def build_site(docs_dir: Path, *, registry: Registry | None = None, warehouse_path: Path,
               today: dt.date | None = None) -> Path:
    """Write the SOP site; returns its index.html. It links the GX Data Docs the gates wrote last
    (`write_data_docs`, docs_dir/gx), if any."""
    reg = registry or default_registry()
    today = today or dt.date.today()
    docs_dir = Path(docs_dir)
    (docs_dir / "sops").mkdir(parents=True, exist_ok=True)
    gx_index = docs_dir / "gx" / "index.html" if (docs_dir / "gx" / "index.html").exists() else None
    compliance, latest = _read(warehouse_path)
    for s in reg.sops:
        page_path(docs_dir, s.id).write_text(sop_page(s, reg, compliance.get(s.id, []), latest.get(s.id, []), today))
    index = docs_dir / "index.html"
    index.write_text(index_page(reg, compliance, latest, today, gx_index))
    return index
