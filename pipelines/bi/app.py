"""The BI app (Streamlit): `make bi`, then http://127.0.0.1:8501 (docs/bi_connection_guide.md).

Reads only the serving snapshot (KPI_SERVING_PATH), read-only, through a new connection on every
script run: a publish renames a new file onto the path, and the next page view shows it. Pages:
one per KPI domain of marts.dim_kpi (the SOP domain's page also lists each SOP with its SOP page),
and data freshness. Filters (the URL carries them, so a view can be shared): period grain, date
range, segment. Values are formatted by the project's one formatter (report.format_value).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from pipelines.bi import data
from pipelines.dashboard import domain_label
from pipelines.kpis import STATUS_LABEL
from pipelines.report import format_value
from pipelines.settings import get_settings

GRAINS = tuple(data.GRAIN_TABLES)  # day, week, month
PERIOD_LABEL = {"day": "{start:%a %Y-%m-%d}", "week": "week {start:%a %Y-%m-%d} to {end:%a %Y-%m-%d}",
                "month": "{start:%B %Y}"}


def _init(key: str, param: str, default, parse=str, options=None) -> None:
    """A widget's starting value: from the URL's query parameter on the first run, else `default`;
    reset when the options changed under it (another grain or segment type)."""
    if key not in st.session_state:
        raw = st.query_params.get(param)
        try:
            st.session_state[key] = parse(raw) if raw is not None else default
        except ValueError:
            st.session_state[key] = default
    if options is not None and st.session_state[key] not in options:
        st.session_state[key] = default


def _status(row) -> str:
    if not row.is_complete:
        return f"not judged: data for {row.days_with_data} of {row.days_in_period} days"
    if row.status:
        return STATUS_LABEL.get(row.status, row.status)
    return "no value" if pd.isna(row.value) else "no target"


def _opt(value):
    return None if pd.isna(value) else float(value)


def _period_label(grain: str, start: dt.date, end: dt.date) -> str:
    return PERIOD_LABEL[grain].format(start=start, end=end)


def domain_page(con, domain: str, grain: str) -> None:
    st.title(domain_label(domain))
    # A failed data gate holds the domain's marts at their last good rows: say so before any figure.
    for h in data.holds(con, domain):
        built = f"built {h.built_at:%Y-%m-%d %H:%M} UTC" if h.built_at else "(none yet)"
        st.warning(f"**Stale: held back** — {h.mart} held back by {h.gate} ({h.reason}); showing the last good KPIs {built}.")
    span = data.date_span(con, domain)
    if span is None:
        st.info(f"No KPI rows of {domain} in the snapshot yet.")
        return
    segments = data.segments(con, domain)
    with st.sidebar:
        _init(f"from_{domain}", "from", span[0], dt.date.fromisoformat)
        _init(f"to_{domain}", "to", span[1], dt.date.fromisoformat)
        start = st.date_input("From", min_value=span[0], max_value=span[1], key=f"from_{domain}")
        end = st.date_input("To", min_value=span[0], max_value=span[1], key=f"to_{domain}")
        _init(f"segment_type_{domain}", "segment_type", "all", options=list(segments))
        segment_type = st.selectbox("Segment type", list(segments), key=f"segment_type_{domain}")
        _init(f"segment_{domain}", "segment", segments[segment_type][0], options=segments[segment_type])
        segment = st.selectbox("Segment", segments[segment_type], key=f"segment_{domain}")
    if start > end:
        st.error(f"The date range is empty: from {start} is after to {end}.")
        return
    periods = data.kpi_periods(con, domain, grain, start, end, segment_type, segment)
    st.query_params.update({"grain": grain, "from": start.isoformat(), "to": end.isoformat(),
                            "segment_type": segment_type, "segment": segment})
    if periods.empty:
        st.info(f"No {grain} rows of {domain} for {segment_type} = {segment} between {start} and {end}.")
        return
    if periods["is_stale"].any():
        st.warning(f"{int(periods['is_stale'].sum())} of the rows below are marked stale (is_stale): "
                   "a failed data gate holds their mart at its last good rows.")

    ends = dict(zip(periods["period_start"], periods["period_end"]))
    options = sorted(ends, reverse=True)
    key = f"period_{domain}_{grain}"
    _init(key, "period", data.default_period(periods), lambda s: pd.Timestamp(s), options)
    chosen = st.selectbox(f"{grain.capitalize()} (newest complete first)", options, key=key,
                          format_func=lambda s: _period_label(grain, s, ends[s]))
    st.query_params["period"] = f"{chosen:%Y-%m-%d}"
    shown = periods[periods["period_start"] == chosen]
    st.subheader(_period_label(grain, chosen, ends[chosen]))
    table = pd.DataFrame({
        "kpi_id": shown["kpi_id"],
        "KPI": shown["kpi_name"],
        "value": [format_value(_opt(v), u) for v, u in zip(shown["value"], shown["unit"])],
        "target": [format_value(_opt(t), u) if not pd.isna(t) else "no target" for t, u in zip(shown["target"], shown["unit"])],
        "status": [_status(r) for r in shown.itertuples()],
        "stale": ["stale" if s else "" for s in shown["is_stale"]],
    })
    st.table(table.set_index("kpi_id"))

    st.subheader("Trend against target")
    st.caption(f"Per {grain}, {segment_type} = {segment}; the target of amounts and counts is per period "
               "(days × the daily target), of ratios the daily target.")
    columns = st.columns(3)
    for i, (kpi_id, rows) in enumerate(periods.groupby("kpi_id", sort=False)):
        with columns[i % 3]:
            unit = rows["unit"].iloc[0]
            last = rows.iloc[-1]
            st.markdown(f"**{rows['kpi_name'].iloc[0]}** · {format_value(_opt(last['value']), unit)} · {_status(last)}")
            trend = rows.set_index("period_start")[["value", "target"]].astype(float).dropna(axis=1, how="all")
            st.line_chart(trend, height=180)
    if domain == data.SOP_DOMAIN:
        sop_section(con, start, end)


def sop_section(con, start: dt.date, end: dt.date) -> None:
    st.subheader("SOP compliance per SOP")
    per_sop = data.sop_compliance(con, start, end)
    if per_sop.empty:
        st.info(f"No SOP gate results between {start} and {end}.")
        return
    docs_dir = get_settings().sop_docs_dir
    lines = ["| SOP | compliance | checks | failed | failed data checks | last day | page |", "|---|---|---|---|---|---|---|"]
    for r in per_sop.itertuples():
        lines.append(f"| {r.sop_id} | {format_value(_opt(r.compliance), 'rate')} | {format_value(r.checks, 'count')} | "
                     f"{format_value(r.failed_checks, 'count')} | {format_value(r.failed_data_checks, 'count')} | "
                     f"{r.last_day:%Y-%m-%d} | [SOP page](?sop={r.sop_id}) |")
    st.markdown("\n".join(lines))
    sop_ids = list(per_sop["sop_id"])
    _init("sop", "sop", sop_ids[0], options=sop_ids)
    sop_id = st.selectbox("SOP page (from the SOP site)", sop_ids, key="sop")
    st.query_params["sop"] = sop_id
    page = data.sop_page(docs_dir, sop_id)
    if page.exists():
        st.caption(f"{page} (the SOP site: `kpi sop docs` rebuilds it)")
        st.iframe(page, height=900)  # the SOP site's own page: self-contained HTML, no network
    else:
        st.info(f"No SOP page at `{page}`: every refresh writes the SOP site (KPI_SOP_DOCS_DIR); `kpi sop docs` rebuilds it.")


def overview_page(con, pages: dict, freshness) -> None:
    st.title("KPIs")
    info = data.publish_info(con)
    if info:
        st.caption(f"Serving snapshot {info[0][:12]}, published {info[1]:%Y-%m-%d %H:%M} UTC (read-only; reload to see a newer one).")
    for domain, page in pages.items():
        held = data.holds(con, domain)
        st.page_link(page, label=f"{domain_label(domain)}" + (" — **stale: held back**" if held else ""))
    st.page_link(freshness, label="Data freshness (exports, held-back marts)")


def freshness_page(con) -> None:
    from pipelines.exports.delivered import not_delivered

    st.title("Data freshness")
    st.subheader("Held-back KPI marts")
    state = data.mart_state(con)
    if state.empty:
        st.info("The snapshot has no ops.kpi_mart_state (published without SOP gates).")
    else:
        held = state[state["held_by"].notna()]
        if held.empty:
            st.success("No KPI mart is held back: every domain shows its newest rows.")
        for r in held.itertuples():
            st.warning(f"**Stale: held back** — {r.mart} held back by {r.held_by} ({r.held_reason}) since {r.held_since}.")
        st.table(state.set_index("mart").astype(str).replace({"NaT": "", "None": "", "nan": ""}))
    st.subheader("Exports")
    fresh = data.export_freshness(con)
    if fresh.empty:
        st.info("The snapshot has no ops.export_freshness.")
        return
    unused = not_delivered(get_settings().exports_config)
    fresh["as of publish"] = ["not in use" if e in unused else "on time" if ok else "late" if loaded is not pd.NaT else "never delivered"
                              for e, ok, loaded in zip(fresh["export"], fresh["on_time"], fresh["last_loaded_at"])]
    fresh["files_loaded"] = [format_value(v, "count") for v in fresh["files_loaded"]]
    fresh["rows_in_raw"] = [format_value(v, "count") for v in fresh["rows_in_raw"]]
    fresh["max_age_hours"] = [format_value(_opt(v), "hours") if not pd.isna(v) else "–" for v in fresh["max_age_hours"]]
    st.table(fresh.drop(columns="on_time").set_index("export").astype(str).replace({"NaT": "–", "None": "–"}))


def main() -> None:
    st.set_page_config(page_title="KPIs", layout="wide")
    path = get_settings().serving_path
    problem = data.snapshot_problem(path)
    if problem:
        st.title("KPIs")
        st.error(problem)
        return
    con = data.open_snapshot(path)  # one snapshot per script run: a new publish shows on the next
    try:
        info = data.publish_info(con)
        with st.sidebar:
            if info:
                st.caption(f"snapshot {info[0][:12]} · published {info[1]:%Y-%m-%d %H:%M} UTC · {path}")
            _init("grain", "grain", "week", options=list(GRAINS))
            grain = st.radio("Period", GRAINS, key="grain", horizontal=True)
        # The default page is served at "/": an overview, so that every domain's page has its own URL.
        domain_pages = {d: st.Page(lambda d=d: domain_page(con, d, grain), title=domain_label(d), url_path=d)
                        for d in data.domains(con)}
        freshness = st.Page(lambda: freshness_page(con), title="Data freshness", url_path="freshness")
        overview = st.Page(lambda: overview_page(con, domain_pages, freshness), title="Overview", url_path="overview", default=True)
        st.navigation([overview, *domain_pages.values(), freshness]).run()
    finally:
        con.close()


main()
