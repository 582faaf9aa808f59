"""The KPI dashboard: one static, offline HTML page rendered from the serving snapshot.

No JavaScript, no CDN: tiles and trend charts are plain HTML and inline SVG, so the page
opens from disk, from any static web server, or attached to an e-mail.

Each tile judges the same period as the console (`kpi summary`, pipelines/report.py): the last
complete week, its value re-summed from the daily components, never a single (maybe still
incomplete) day. The trend under it shows the daily values.
"""
from __future__ import annotations

import datetime as dt
import html
import os
from collections import defaultdict
from pathlib import Path

from .ops_tables import EXPORT_FRESHNESS, PUBLISH_INFO
from .kpis import STATUS_LABEL
from .report import format_value, kpi_week
from .sop.results import held_domains
from .warehouse import connect, tables

TREND_DAYS = 60
WEEK_DAYS = 7
DIRECTION_LABEL = {"higher_is_better": "▲ higher is better", "lower_is_better": "▼ lower is better"}


def _status_label(status: str | None, target: float | None, value: float | None) -> str:
    if status:
        return STATUS_LABEL.get(status, status)
    return "no target" if target is None else "no value"


def domain_label(domain: str) -> str:
    return "SOP" if domain == "sop" else domain.replace("_", " ").capitalize()


def _trend_svg(points: list[tuple[dt.date, float | None]], target: float | None, width=260, height=70) -> str:
    values = [v for _, v in points if v is not None]
    if len(values) < 2:  # a line needs two days: say so rather than draw nothing
        what = "no value yet" if not values else "one day so far"
        return (f'<svg class="trend" width="{width}" height="{height}" role="img" aria-label="{what}">'
                f'<text x="4" y="{height / 2 + 4:.0f}">{what}</text></svg>')
    lo, hi = min(values + ([target] if target is not None else [])), max(values + ([target] if target is not None else []))
    span = (hi - lo) or 1.0
    n = len(points)

    def xy(i: int, v: float) -> str:
        return f"{4 + i * (width - 8) / (n - 1):.1f},{height - 4 - (v - lo) / span * (height - 8):.1f}"

    line = " ".join(xy(i, v) for i, (_, v) in enumerate(points) if v is not None)
    parts = [f'<svg class="trend" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="trend over {n} days">']
    if target is not None:
        y = height - 4 - (target - lo) / span * (height - 8)
        parts.append(f'<line class="target" x1="4" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>')
    parts.append(f'<polyline class="value" points="{line}"/></svg>')
    return "".join(parts)


def render_dashboard(serving_file: Path, out: Path, *, base_currency: str = "USD",
                     not_delivered: frozenset[str] | None = None) -> dict[str, int]:
    """Write the dashboard HTML (atomically) and return counts of what it shows. `not_delivered`:
    the exports the business does not deliver (default: from its exports config); the KPIs that
    need them are listed as not computed, with the reason, instead of a tile."""
    from .exports.delivered import not_delivered as configured_not_delivered
    from .kpis import kpis_not_computed
    from .settings import get_settings

    if not_delivered is None:
        not_delivered = configured_not_delivered(get_settings().exports_config)
    not_computed = kpis_not_computed(not_delivered)
    with connect(serving_file, read_only=True) as con:
        info = con.execute(f"SELECT snapshot_id, published_at FROM {PUBLISH_INFO}").fetchone()
        has = tables(con)
        about = {}
        if "marts.dim_kpi" in has:
            about = {row[0]: row[1:] for row in con.execute(
                "SELECT kpi_id, kpi_name, direction, definition, target FROM marts.dim_kpi").fetchall()}
        week = kpi_week(con, WEEK_DAYS, not_delivered)
        trends: dict[str, list] = defaultdict(list)
        sop_rows = []
        if "marts.fct_kpi_daily" in has:
            for kpi_id, day, value in con.execute(
                f"""SELECT kpi_id, kpi_date, value FROM marts.fct_kpi_daily
                    WHERE segment_type = 'all'
                    -- each KPI's own newest days: SOP compliance is dated by the check, CLV by cohort month
                    QUALIFY kpi_date > max(kpi_date) OVER (PARTITION BY kpi_id) - INTERVAL {TREND_DAYS} DAY
                    ORDER BY kpi_id, kpi_date"""
            ).fetchall():
                trends[kpi_id].append((day, value))
            sop_rows = con.execute(
                """SELECT segment, kpi_date, value, status FROM marts.fct_kpi_daily
                   WHERE kpi_id = 'sop_compliance_rate' AND segment_type = 'sop' ORDER BY segment, kpi_date"""
            ).fetchall()
        held = held_domains(con)
        freshness = con.execute(
            "SELECT system, export, cadence, files_loaded, rows_in_raw, last_loaded_at, newest_data_date, "
            f"max_age_hours, on_time FROM {EXPORT_FRESHNESS} ORDER BY system, export").fetchall()

    names = {k: v[0] for k, v in about.items()}
    not_computed_html = "".join(
        f'<tr data-kpi-id="{html.escape(k)}"><td>{html.escape(names.get(k) or k)}</td><td>{html.escape(k)}</td>'
        f'<td>{html.escape(reason)}</td></tr>' for k, reason in sorted(not_computed.items()))

    start, end, lines = week or (None, None, [])
    # Domains in the catalogue's order (storefront first), tiles in the catalogue's order within each.
    by_domain: dict[str, list[str]] = {}
    shown = 0
    for line in lines:
        if line.kpi_id in not_computed:
            continue
        shown += 1
        # The catalogue's target is per day (the trend's dashed line); kpi_week gives the week's.
        _, direction, definition, daily_target = about.get(line.kpi_id, (None, None, "", None))
        note = f'<p class="note">{html.escape(line.note)}</p>' if line.note else ""
        by_domain.setdefault(line.domain, []).append(
            f'<article class="tile {html.escape(line.status or "none")}" data-kpi-id="{html.escape(line.kpi_id)}">'
            f'<h3>{html.escape(line.kpi_name or line.kpi_id)}</h3>'
            f'<p class="kpi-id">{html.escape(line.kpi_id)}</p>'
            f'<p class="value">{html.escape(format_value(line.value, line.unit))}</p>'
            f'<p class="meta">target {html.escape(format_value(line.target, line.unit) if line.target is not None else "none")} · '
            f'<span class="status">{_status_label(line.status, line.target, line.value)}</span> · '
            f'<span class="direction">{DIRECTION_LABEL.get(direction, "")}</span></p>{note}'
            f'{_trend_svg(trends.get(line.kpi_id, []), daily_target)}'
            f'<details><summary>definition</summary><p>{html.escape(definition or "")}</p></details></article>'
        )

    sops: dict[str, list] = defaultdict(list)
    for sop, day, value, status in sop_rows:
        sops[sop].append((day, value, status))
    sop_html = "".join(
        f'<tr data-sop-id="{html.escape(sop)}"><td>{html.escape(sop)}</td>'
        f'<td>{html.escape(format_value(pts[-1][1], "rate"))}</td><td>{pts[-1][0]}</td>'
        f'<td>{_trend_svg([(d, v) for d, v, _ in pts], 1.0, 160, 30)}</td></tr>'
        for sop, pts in sorted(sops.items())
    ) or '<tr><td colspan="4">No SOP gate results published yet.</td></tr>'

    fresh_html = "".join(
        f'<tr data-export="{html.escape(export)}" class="{"not-in-use" if export in not_delivered else "on-time" if ok else "late"}"><td>{html.escape(system)}</td>'
        f"<td>{html.escape(export)}</td><td>{cadence}</td><td>{files:,}</td><td>{rows_:,}</td>"
        f"<td>{loaded.strftime('%Y-%m-%d %H:%M') if loaded else '–'}</td><td>{newest or '–'}</td>"
        f"<td>{f'{limit:g} h' if limit is not None else '–'}</td>"
        f'<td class="status">{"not in use" if export in not_delivered else "on time" if ok else ("late" if loaded else "never delivered")}</td></tr>'
        for system, export, cadence, files, rows_, loaded, newest, limit, ok in freshness
    )
    for domain in held:
        by_domain.setdefault(domain, [])
    sections = "".join(
        f'<section class="domain" id="{html.escape(d)}"><h2>{html.escape(domain_label(d))}</h2>'
        + "".join(f'<p class="stale" data-held-by="{html.escape(h.gate)}">Stale: held back by {html.escape(h.gate)} '
                  f'({html.escape(h.reason)}); showing the last good KPIs '
                  f'{("built " + h.built_at.strftime("%Y-%m-%d %H:%M") + " UTC") if h.built_at else "(none yet)"}.</p>'
                  for h in held.get(d, []))
        + f'<div class="tiles">{"".join(tiles)}</div></section>'
        for d, tiles in by_domain.items()
    ) or "<p>No KPIs published yet: run the pipeline.</p>"

    page = _PAGE.format(
        published=html.escape(info[1].strftime("%Y-%m-%d %H:%M")), snapshot=html.escape(info[0][:12]), sections=sections,
        sop_rows=sop_html, fresh_rows=fresh_html, week_days=WEEK_DAYS,
        period=(f"{start:%a %Y-%m-%d} to {end:%a %Y-%m-%d}" if start else "no complete week yet"),
        not_computed=(f'<section id="not-computed"><h2>Not computed</h2><table><thead><tr><th>KPI</th><th>kpi_id</th>'
                      f'<th>why</th></tr></thead><tbody>{not_computed_html}</tbody></table></section>'
                      if not_computed else ""), currency=html.escape(base_currency), days=TREND_DAYS,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return {"kpis": shown, "domains": len(by_domain), "sops": len(sops), "exports": len(freshness),
            "held_domains": len(held), "not_computed": len(not_computed)}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>KPI dashboard</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 0 24px 40px; color: #1d2330; background: #f6f7f9; }}
header {{ display: flex; justify-content: space-between; align-items: baseline; }}
h2 {{ border-bottom: 1px solid #d5d9e0; padding-bottom: 4px; }}
.tiles {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 12px; }}
.tile {{ background: #fff; border-radius: 8px; padding: 10px 12px; border-left: 6px solid #9aa3b2; }}
.tile.on_target {{ border-left-color: #2e9d5b; }} .tile.at_risk {{ border-left-color: #e0a100; }}
.tile.off_target {{ border-left-color: #d64541; }}
tr.late td.status {{ color: #d64541; font-weight: 600; }} tr.on-time td.status {{ color: #2e9d5b; }}
.stale {{ background: #fdf0d5; border-left: 6px solid #e0a100; padding: 6px 10px; }}
.swatch {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 10px; vertical-align: -1px; background: #9aa3b2; }}
.swatch.on_target {{ background: #2e9d5b; }} .swatch.at_risk {{ background: #e0a100; }} .swatch.off_target {{ background: #d64541; }}
.note {{ margin: 0; color: #6b7385; font-size: 12px; font-style: italic; }} .trend text {{ fill: #6b7385; font-size: 11px; }}
details {{ font-size: 12px; color: #4b5366; }} summary {{ cursor: pointer; color: #6b7385; }}
.tile h3 {{ margin: 0; font-size: 14px; }} .kpi-id {{ margin: 0; color: #6b7385; font-size: 11px; }}
.value {{ font-size: 26px; margin: 4px 0; }} .meta {{ margin: 0 0 4px; color: #4b5366; font-size: 12px; }}
.trend polyline.value {{ fill: none; stroke: #3366cc; stroke-width: 1.5; }}
.trend line.target {{ stroke: #d64541; stroke-dasharray: 4 3; stroke-width: 1; }}
table {{ border-collapse: collapse; background: #fff; }} td, th {{ padding: 4px 10px; border-bottom: 1px solid #e6e9ee; text-align: left; }}
</style></head>
<body>
<header><h1>KPI dashboard</h1><p>snapshot {snapshot} · published {published} UTC · amounts in {currency}</p></header>
<p class="period">KPIs of the last complete week, <strong>{period}</strong>, as in <code>kpi summary</code>: each value re-summed from the daily figures; targets of amounts and counts × {week_days} days. Under each value: the daily values of the last {days} days, dashed line = the daily target.</p>
<p class="legend"><span class="swatch on_target"></span>on target <span class="swatch at_risk"></span>at risk <span class="swatch off_target"></span>off target <span class="swatch none"></span>no target or no value · ▲ higher is better · ▼ lower is better</p>
{sections}
{not_computed}
<section id="sop-compliance"><h2>SOP compliance</h2>
<table><thead><tr><th>SOP</th><th>compliance</th><th>day</th><th>trend</th></tr></thead><tbody>{sop_rows}</tbody></table></section>
<section id="freshness"><h2>Data freshness</h2>
<table><thead><tr><th>system</th><th>export</th><th>cadence</th><th>files</th><th>rows</th><th>last loaded (UTC)</th><th>newest data</th><th>limit</th><th>as of publish</th></tr></thead>
<tbody>{fresh_rows}</tbody></table></section>
</body></html>
"""
