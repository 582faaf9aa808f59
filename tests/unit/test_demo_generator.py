"""The demo export generator: files as the contracts declare them, reproducible, and linked across systems."""
from __future__ import annotations

import datetime as dt
import filecmp
import json
from pathlib import Path

import duckdb
import pytest

from pipelines.exports import BY_NAME, EXPORTS
from pipelines.exports.demo import generate_demo_exports

END = dt.date(2026, 3, 15)
DAYS = 21
SCALE = 0.3
SEED = 7
START = END - dt.timedelta(days=DAYS - 1)
NOW = dt.datetime.combine(END + dt.timedelta(days=1), dt.time())  # the export run: nothing may be newer
PERIOD = [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
CHANGE_EXPORTS = [e for e in EXPORTS if e.change_timestamp and e.cadence == "daily"]
STATIC_EXPORTS = [e for e in EXPORTS if not e.change_timestamp]


def _generate(out: Path, **kw) -> dict[str, int]:
    args = {"days": DAYS, "scale": SCALE, "seed": SEED, "end_date": END, "progress": None, **kw}
    return generate_demo_exports(out, **args)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo")
    return out, _generate(out)


def _reader(root: Path, e) -> str:
    """A DuckDB scan of all files of an export, typed with the contract (a bad value fails the read)."""
    glob = str(root / e.file_glob)
    types = "{" + ", ".join(f"'{c.name}': '{c.type}'" for c in e.columns) + "}"
    if e.format == "csv":
        return f"read_csv('{glob}', header = true, delim = '{e.delimiter}', columns = {types}, filename = true)"
    if e.format == "jsonl":
        return f"read_json('{glob}', format = 'newline_delimited', columns = {types}, filename = true)"
    return f"read_parquet('{glob}', filename = true)"


@pytest.fixture(scope="module")
def db(demo) -> duckdb.DuckDBPyConnection:
    root, _ = demo
    con = duckdb.connect()
    for e in EXPORTS:  # read once, typed with the contract
        con.execute(f"CREATE TABLE {e.name} AS SELECT * FROM {_reader(root, e)}")
    yield con
    con.close()


def one(con, sql: str):
    return con.execute(sql).fetchone()[0]


# --- reproducibility --------------------------------------------------------------------

def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_same_seed_writes_byte_identical_files(demo, tmp_path):
    root, rows = demo
    again = _generate(tmp_path)
    assert again == rows
    files = _files(root)
    assert files == _files(tmp_path)
    _, mismatch, errors = filecmp.cmpfiles(root, tmp_path, files, shallow=False)
    assert not mismatch and not errors


def test_a_different_seed_writes_different_data(demo, tmp_path):
    root, _ = demo
    _generate(tmp_path, seed=SEED + 1)
    files = _files(root)
    assert files == _files(tmp_path), "same period: same file names"
    _, mismatch, _ = filecmp.cmpfiles(root, tmp_path, files, shallow=False)
    assert len(mismatch) > len(files) / 2


def test_end_date_defaults_to_yesterday_utc(tmp_path):
    generate_demo_exports(tmp_path, days=2, scale=0.05, seed=1, progress=None)
    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    fx = BY_NAME["fx_rates"]
    assert (tmp_path / fx.folder / fx.file_name(yesterday.isoformat())).exists()
    assert not (tmp_path / fx.folder / fx.file_name(dt.datetime.now(dt.timezone.utc).date().isoformat())).exists()


def test_volumes_scale_with_scale(demo, tmp_path):
    _, rows = demo
    double = _generate(tmp_path, scale=2 * SCALE)
    for name in ("web_sessions", "orders", "tickets"):
        assert 1.6 < double[name] / rows[name] < 2.4, name


# --- files as the contracts declare them -------------------------------------------------

@pytest.mark.parametrize("e", EXPORTS, ids=lambda e: e.name)
def test_files_carry_the_contract_columns(demo, e):
    root, rows = demo
    folder = root / e.folder
    if e.cadence == "snapshot":
        files = [folder / e.file_name()]
    else:
        files = [folder / e.file_name(day) for day in PERIOD]  # a file for every day, even a quiet one
    assert all(f.exists() for f in files), [str(f) for f in files if not f.exists()]
    assert set(folder.iterdir()) >= set(files)
    assert rows[e.name] > 0
    con = duckdb.connect()
    for f in files:
        if e.format == "csv":
            lines = f.read_text().splitlines()
            assert lines[0].split(e.delimiter) == e.column_names
        elif e.format == "jsonl":
            for line in f.read_text().splitlines():
                assert list(json.loads(line)) == e.column_names
        else:
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{f}')").fetchall()
            assert [(r[0], r[1]) for r in described] == [(c.name, c.type) for c in e.columns]


def test_csv_values_are_written_as_the_convention_says(demo):
    root, _ = demo
    orders = BY_NAME["orders"]
    text = (root / orders.folder / orders.file_name(PERIOD[-1])).read_text().splitlines()
    row = dict(zip(text[0].split(","), text[1].split(",")))
    dt.datetime.strptime(row["created_at"], "%Y-%m-%d %H:%M:%S")
    assert row["cancelled_at"] == "" or dt.datetime.strptime(row["cancelled_at"], "%Y-%m-%d %H:%M:%S")
    products = BY_NAME["products"]
    flags = {line.split(",")[products.column_names.index("is_active")]
             for line in (root / products.folder / products.file_name()).read_text().splitlines()[1:]}
    assert flags == {"true", "false"}


@pytest.mark.parametrize("e", EXPORTS, ids=lambda e: e.name)
def test_rows_read_back_typed_as_written(db, demo, e):
    _, rows = demo
    assert one(db, f"SELECT count(*) FROM {e.name}") == rows[e.name]


@pytest.mark.parametrize("e", [e for e in EXPORTS if e.cadence == "daily"], ids=lambda e: e.name)
def test_each_row_is_in_the_file_of_its_event_date(db, e):
    misfiled = one(db, f"""SELECT count(*) FROM {e.name}
                           WHERE filename NOT LIKE '%' || strftime(CAST("{e.event_date}" AS DATE), '%Y-%m-%d') || '.{e.extension}'""")
    assert misfiled == 0


@pytest.mark.parametrize("e", EXPORTS, ids=lambda e: e.name)
def test_no_timestamp_after_the_export_run(db, e):
    for c in e.columns:
        if c.type in ("TIMESTAMP", "DATE") and c.name not in ("end_date", "promised_delivery_date"):
            assert one(db, f'SELECT count(*) FROM {e.name} WHERE "{c.name}" >= TIMESTAMP \'{NOW}\'') == 0, c.name


@pytest.mark.parametrize("e", EXPORTS, ids=lambda e: e.name)
def test_allowed_values_and_keys_not_null(db, e):
    for c in e.columns:
        if c.allowed:
            values = ", ".join(f"'{v}'" for v in c.allowed)
            assert one(db, f'SELECT count(*) FROM {e.name} WHERE "{c.name}" NOT IN ({values})') == 0, c.name
        if not c.nullable:
            assert one(db, f'SELECT count(*) FROM {e.name} WHERE "{c.name}" IS NULL') == 0, c.name


@pytest.mark.parametrize("e", STATIC_EXPORTS, ids=lambda e: e.name)
def test_primary_key_is_unique(db, e):
    key = ", ".join(f'"{k}"' for k in e.primary_key)
    assert one(db, f"SELECT count(*) - count(DISTINCT ({key})) FROM {e.name}") == 0


@pytest.mark.parametrize("e", [e for e in EXPORTS if e.cadence == "snapshot"], ids=lambda e: e.name)
def test_snapshots_hold_one_version_per_key(db, e):
    key = ", ".join(f'"{k}"' for k in e.primary_key)
    assert one(db, f"SELECT count(*) - count(DISTINCT ({key})) FROM {e.name}") == 0


@pytest.mark.parametrize("e", CHANGE_EXPORTS, ids=lambda e: e.name)
def test_change_exports_deliver_keys_again_with_newer_change_timestamps(db, e):
    key = ", ".join(f'"{k}"' for k in e.primary_key)
    ts = e.change_timestamp
    repeated, versions, distinct_versions = db.execute(f"""
        SELECT count(*) FILTER (WHERE n > 1), sum(n), sum(t)
        FROM (SELECT {key}, count(*) AS n, count(DISTINCT "{ts}") AS t FROM {e.name} GROUP BY {key})""").fetchone()
    assert repeated > 0, "some records change and come again"
    assert versions == distinct_versions, "every version of a key has its own change timestamp"
    # A later file holds a newer version: the change timestamp orders the files of a key.
    out_of_order = one(db, f"""
        SELECT count(*) FROM (SELECT filename, "{ts}", lag("{ts}") OVER (PARTITION BY {key} ORDER BY filename, "{ts}") AS prev
                              FROM {e.name}) WHERE prev >= "{ts}" """)
    assert out_of_order == 0


# --- links across systems ---------------------------------------------------------------

LATEST = {e.name: f"(SELECT * FROM {e.name} QUALIFY row_number() OVER (PARTITION BY {', '.join(e.primary_key)} "
                  f"ORDER BY {e.change_timestamp} DESC) = 1)" for e in CHANGE_EXPORTS}


def test_every_order_has_a_customer(db):
    assert one(db, "SELECT count(*) FROM orders") > 0
    assert one(db, "SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT customer_id FROM customers)") == 0
    # ... created before it placed the order (new customers sign up at checkout)
    assert one(db, """SELECT count(*) FROM orders o JOIN (SELECT customer_id, min(created_at) AS c FROM customers GROUP BY 1) c
                      USING (customer_id) WHERE c.c > o.created_at""") == 0


def test_web_orders_come_from_a_session_with_their_purchase_event(db):
    assert one(db, "SELECT count(*) FROM orders WHERE sales_channel = 'marketplace' AND session_id IS NOT NULL") == 0
    assert one(db, "SELECT count(*) FROM orders WHERE sales_channel = 'marketplace'") > 0
    orphans = one(db, """
        SELECT count(*) FROM (SELECT DISTINCT order_id, session_id, sales_channel FROM orders) o
        WHERE o.sales_channel <> 'marketplace' AND NOT EXISTS (
            SELECT 1 FROM web_events e WHERE e.session_id = o.session_id AND e.event_type = 'purchase' AND e.order_id = o.order_id)""")
    assert orphans == 0
    assert one(db, """SELECT count(*) FROM web_events WHERE event_type = 'purchase'
                      AND order_id NOT IN (SELECT order_id FROM orders)""") == 0
    assert one(db, """SELECT count(*) FROM (SELECT DISTINCT order_id, session_id FROM orders WHERE session_id IS NOT NULL) o
                      JOIN web_sessions s USING (session_id) JOIN (SELECT DISTINCT order_id, sales_channel FROM orders) c
                      USING (order_id) WHERE s.sales_channel <> c.sales_channel""") == 0


def test_sessions_carry_campaign_tags_or_none(db):
    assert one(db, """SELECT count(*) FROM web_sessions WHERE utm_campaign IS NOT NULL
                      AND utm_campaign NOT IN (SELECT utm_campaign FROM campaigns)""") == 0
    paid = one(db, "SELECT avg(CASE WHEN utm_campaign IS NOT NULL THEN 1 ELSE 0 END) FROM web_sessions")
    assert 0.1 < paid < 0.6, "a mix of paid and organic/direct sessions"
    assert one(db, "SELECT count(*) FROM web_sessions WHERE (utm_source IS NULL) <> (utm_campaign IS NULL)") == 0
    # a campaign's sessions come while it is live, from its platform's source
    assert one(db, """SELECT count(*) FROM web_sessions s JOIN campaigns c USING (utm_campaign)
                      WHERE CAST(s.started_at AS DATE) NOT BETWEEN c.start_date AND c.end_date""") == 0


def test_web_events_follow_the_funnel(db):
    assert one(db, "SELECT count(*) FROM web_sessions WHERE session_id NOT IN (SELECT session_id FROM web_events)") == 0
    assert one(db, "SELECT count(*) FROM web_events WHERE session_id NOT IN (SELECT session_id FROM web_sessions)") == 0
    assert one(db, """SELECT count(*) FROM web_events e JOIN web_sessions s USING (session_id)
                      WHERE e.occurred_at < s.started_at OR e.occurred_at > s.ended_at""") == 0
    steps = ["page_view", "product_view", "add_to_cart", "checkout_started", "purchase"]
    flags = ", ".join(f"bool_or(event_type = '{s}') AS {s}" for s in steps)
    firsts = ", ".join(f"min(occurred_at) FILTER (WHERE event_type = '{s}') AS t_{s}" for s in steps)
    funnel = f"(SELECT session_id, {flags}, {firsts} FROM web_events GROUP BY 1)"
    sessions, carts, buys, broken = db.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE add_to_cart), count(*) FILTER (WHERE purchase),
               count(*) FILTER (WHERE NOT page_view
                                OR (purchase AND NOT (add_to_cart AND checkout_started AND product_view))
                                OR (checkout_started AND NOT add_to_cart) OR (add_to_cart AND NOT product_view)
                                OR t_product_view < t_page_view OR t_add_to_cart < t_product_view
                                OR t_checkout_started < t_add_to_cart OR t_purchase < t_checkout_started)
        FROM {funnel}""").fetchone()
    assert broken == 0
    assert 0.015 < buys / sessions < 0.05, "about 3% of sessions buy"
    assert 0.5 < 1 - buys / carts < 0.85, "many abandoned carts"
    assert one(db, """SELECT count(*) FROM web_events WHERE (event_type IN ('product_view', 'add_to_cart')) <> (sku IS NOT NULL)
                      OR (event_type = 'add_to_cart') <> (quantity IS NOT NULL) OR (event_type = 'purchase') <> (order_id IS NOT NULL)""") == 0


def test_order_lines_reference_products_and_add_up(db):
    assert one(db, "SELECT count(*) FROM order_lines WHERE sku NOT IN (SELECT sku FROM products WHERE is_active)") == 0
    assert one(db, "SELECT count(*) FROM order_lines WHERE order_id NOT IN (SELECT order_id FROM orders)") == 0
    assert one(db, "SELECT count(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_lines)") == 0
    assert one(db, "SELECT max(n) FROM (SELECT count(*) AS n FROM order_lines GROUP BY order_id)") <= 4
    assert one(db, """SELECT count(*) FROM orders
                      WHERE total_amount <> subtotal_amount - discount_amount + tax_amount + shipping_amount
                         OR refunded_amount > total_amount""") == 0
    assert one(db, """SELECT count(*) FROM (SELECT DISTINCT order_id, subtotal_amount, discount_amount FROM orders) o
                      JOIN (SELECT order_id, sum(quantity * unit_price) AS s, sum(discount_amount) AS d FROM order_lines GROUP BY 1) l
                      USING (order_id) WHERE o.subtotal_amount <> l.s OR o.discount_amount <> l.d""") == 0
    assert one(db, "SELECT count(DISTINCT currency) FROM orders") == 3


def test_order_lifecycle(db):
    statuses = dict(db.execute(f"SELECT status, count(*) FROM {LATEST['orders']} GROUP BY 1").fetchall())
    assert {"fulfilled", "cancelled", "refunded"} <= set(statuses)
    assert one(db, """SELECT count(*) FROM orders WHERE updated_at < created_at OR paid_at < created_at
                      OR (status = 'placed' AND paid_at IS NOT NULL) OR (status = 'refunded' AND refunded_at IS NULL)
                      OR (status = 'cancelled' AND cancelled_at IS NULL)""") == 0


def test_shipments_reference_orders_and_their_lines(db):
    assert one(db, "SELECT count(*) FROM shipments WHERE order_id NOT IN (SELECT order_id FROM orders)") == 0
    assert one(db, """SELECT count(*) FROM shipment_lines sl JOIN (SELECT DISTINCT shipment_id, order_id FROM shipments) s
                      USING (shipment_id) JOIN order_lines l USING (order_line_id) WHERE l.order_id <> s.order_id""") == 0
    assert one(db, "SELECT count(*) FROM shipment_lines WHERE shipment_id NOT IN (SELECT shipment_id FROM shipments)") == 0
    exact, over = db.execute("""
        SELECT avg(CASE WHEN sl.sku = l.sku AND sl.quantity_shipped = l.quantity THEN 1 ELSE 0 END),
               count(*) FILTER (WHERE sl.quantity_shipped > l.quantity)
        FROM shipment_lines sl JOIN order_lines l USING (order_line_id)""").fetchone()
    assert 0.95 < exact < 1 and over == 0
    assert one(db, """SELECT count(*) FROM shipments s JOIN (SELECT DISTINCT order_id, created_at FROM orders) o USING (order_id)
                      WHERE s.delivered_at < s.shipped_at OR s.shipped_at < o.created_at OR s.tracking_number IS NULL""") == 0
    assert one(db, "SELECT count(DISTINCT carrier) FROM shipments") == 4


def test_returns_reference_order_lines(db):
    assert one(db, "SELECT count(*) FROM returns") > 0
    assert one(db, """SELECT count(*) FROM returns r LEFT JOIN order_lines l USING (order_line_id)
                      WHERE l.order_id IS DISTINCT FROM r.order_id""") == 0
    assert one(db, """SELECT count(*) FROM returns r JOIN order_lines l USING (order_line_id)
                      WHERE r.refund_amount > r.quantity * l.unit_price OR r.quantity > l.quantity
                         OR r.received_at < r.requested_at OR r.refunded_at < r.received_at
                         OR (r.refunded_at IS NULL) <> (r.refund_amount IS NULL) OR r.reason IS NULL""") == 0
    assert one(db, """SELECT count(*) FROM returns r JOIN (SELECT order_id, max(delivered_at) AS d FROM shipments GROUP BY 1) s
                      USING (order_id) WHERE s.d IS NULL OR r.requested_at < s.d""") == 0
    # the order's refunded amount is the sum of its refunded returns
    assert one(db, f"""SELECT count(*) FROM (SELECT order_id, max(refunded_amount) AS r FROM orders GROUP BY 1) o
                       JOIN (SELECT order_id, sum(refund_amount) AS x FROM {LATEST['returns']} GROUP BY 1) r USING (order_id)
                       WHERE o.r <> coalesce(r.x, 0)""") == 0


def test_tickets_reference_customers_and_orders(db):
    assert one(db, """SELECT count(*) FROM tickets WHERE requester_id IS NOT NULL
                      AND requester_id NOT IN (SELECT customer_id FROM customers)""") == 0
    assert one(db, "SELECT count(*) FROM tickets WHERE order_id IS NOT NULL AND order_id NOT IN (SELECT order_id FROM orders)") == 0
    assert one(db, "SELECT count(DISTINCT ticket_id) FROM tickets WHERE order_id IS NOT NULL") > 0
    assert one(db, """SELECT count(*) FROM tickets t JOIN (SELECT DISTINCT order_id, customer_id, created_at FROM orders) o
                      USING (order_id) WHERE t.requester_id <> o.customer_id OR t.created_at < o.created_at""") == 0
    assert one(db, "SELECT count(*) FROM ticket_interactions WHERE ticket_id NOT IN (SELECT ticket_id FROM tickets)") == 0
    assert one(db, "SELECT count(*) FROM csat_responses WHERE ticket_id NOT IN (SELECT ticket_id FROM tickets)") == 0


def test_production_reuses_products_and_the_run_window(db):
    assert one(db, "SELECT count(*) FROM production_runs WHERE sku NOT IN (SELECT sku FROM products)") == 0
    assert one(db, """SELECT count(*) FROM production_runs a JOIN production_runs b ON a.line_id = b.line_id
                      AND a.run_id < b.run_id AND a.scheduled_start < b.scheduled_end AND b.scheduled_start < a.scheduled_end""") == 0
    assert one(db, """SELECT count(*) FROM downtime_events d JOIN production_runs r USING (run_id)
                      WHERE d.started_at < r.scheduled_start OR d.ended_at > r.scheduled_end OR d.ended_at <= d.started_at""") == 0
    assert one(db, "SELECT count(*) FROM downtime_events WHERE run_id NOT IN (SELECT run_id FROM production_runs)") == 0
    assert one(db, "SELECT count(*) FROM downtime_events WHERE reason_code IS NULL") == 0
    assert one(db, "SELECT count(DISTINCT is_planned) FROM downtime_events") == 2
    assert one(db, "SELECT count(*) FROM production_runs WHERE run_id NOT IN (SELECT run_id FROM qc_inspections)") == 0
    assert one(db, """SELECT count(*) FROM production_runs r WHERE NOT EXISTS (
                          SELECT 1 FROM equipment_checks c WHERE c.line_id = r.line_id AND c.shift = r.shift AND c.result = 'pass'
                          AND c.checked_at <= r.scheduled_start AND c.checked_at > r.scheduled_start - INTERVAL 9 HOUR)""") == 0
    assert one(db, "SELECT count(*) FROM production_runs WHERE dayofweek(scheduled_start) = 0") == 0, "idle on Sundays"


def test_inventory_covers_every_active_sku_warehouse_and_day(db):
    per_day = db.execute("SELECT count(*), count(DISTINCT snapshot_date) FROM inventory_snapshots").fetchone()
    active = one(db, "SELECT count(*) FROM products WHERE is_active")
    assert per_day == (active * 2 * DAYS, DAYS)
    assert one(db, """SELECT count(*) FROM inventory_snapshots
                      WHERE sku NOT IN (SELECT sku FROM products WHERE is_active) OR on_hand < 0 OR reserved < 0 OR reserved > on_hand""") == 0
    assert one(db, """SELECT count(*) FROM inventory_snapshots i JOIN products p USING (sku)
                      WHERE i.on_hand - i.reserved <= p.reorder_point AND i.inbound_on_order <= 0""") == 0
    assert one(db, "SELECT avg(CASE WHEN on_hand - reserved <= 0 THEN 1 ELSE 0 END) FROM inventory_snapshots") < 0.1


def test_ad_spend_for_every_live_campaign_day(db):
    gaps = one(db, f"""
        SELECT count(*) FROM campaigns c, range(0, {DAYS + 400}) AS r(i)
        WHERE c.start_date + CAST(i AS INTEGER) <= c.end_date
          AND c.start_date + CAST(i AS INTEGER) BETWEEN DATE '{START}' AND DATE '{END}'
          AND NOT EXISTS (SELECT 1 FROM ad_spend_daily s WHERE s.campaign_id = c.campaign_id
                          AND s.spend_date = c.start_date + CAST(i AS INTEGER))""")
    assert gaps == 0
    assert one(db, """SELECT count(*) FROM ad_spend_daily s LEFT JOIN campaigns c USING (campaign_id)
                      WHERE c.campaign_id IS NULL OR s.spend_date NOT BETWEEN c.start_date AND c.end_date
                         OR s.platform <> c.platform OR s.currency <> c.currency""") == 0
    assert one(db, "SELECT count(*) FROM ad_spend_daily WHERE clicks > impressions OR spend_amount < 0 OR clicks < 0") == 0
    assert one(db, """SELECT count(*) FROM campaigns c JOIN (SELECT campaign_id, sum(spend_amount) AS s FROM ad_spend_daily GROUP BY 1)
                      USING (campaign_id) WHERE s > 1.1 * c.budget_amount""") == 0
    assert one(db, """SELECT count(*) FROM campaigns WHERE approved_at >= start_date OR budget_amount IS NULL
                      OR utm_campaign IS NULL""") == 0
    assert one(db, "SELECT count(DISTINCT platform) FROM campaigns") == 3


def test_fx_rates_cover_every_currency_on_every_day(db):
    used = """
        SELECT currency, CAST(created_at AS DATE) AS d FROM orders UNION SELECT currency, spend_date FROM ad_spend_daily
        UNION SELECT currency, CAST(shipped_at AS DATE) FROM shipments WHERE shipped_at IS NOT NULL
        UNION SELECT currency, CAST(refunded_at AS DATE) FROM returns WHERE refunded_at IS NOT NULL
        UNION SELECT currency, d FROM (SELECT DISTINCT currency FROM campaigns UNION SELECT DISTINCT currency FROM products),
                                      (SELECT DISTINCT rate_date AS d FROM fx_rates)"""
    assert one(db, f"""SELECT count(*) FROM ({used}) u WHERE NOT EXISTS (
                           SELECT 1 FROM fx_rates f WHERE f.currency = u.currency AND f.rate_date = u.d AND f.quote_currency = 'USD')""") == 0
    assert db.execute("SELECT count(DISTINCT rate_date), count(DISTINCT currency) FROM fx_rates").fetchone() == (DAYS, 3)
    assert one(db, "SELECT count(*) FROM fx_rates WHERE currency = 'USD' AND rate <> 1.0") == 0
    drift = one(db, """SELECT max(abs(rate / lag_rate - 1)) FROM (SELECT rate, lag(rate) OVER (PARTITION BY currency ORDER BY rate_date)
                       AS lag_rate FROM fx_rates)""")
    assert 0 < drift < 0.03, "small daily drift"


# --- shapes the KPIs and SOP gates rely on ----------------------------------------------

def test_helpdesk_shapes(db):
    sla = "CASE channel WHEN 'email' THEN INTERVAL 24 HOUR WHEN 'social' THEN INTERVAL 4 HOUR WHEN 'chat' THEN INTERVAL 10 MINUTE ELSE INTERVAL 5 MINUTE END"
    within, answered = db.execute(f"""
        SELECT avg(CASE WHEN first_reply - created_at <= {sla} THEN 1 ELSE 0 END), count(*)
        FROM (SELECT t.ticket_id, t.channel, t.created_at, min(i.created_at) AS first_reply
              FROM {LATEST['tickets']} t JOIN ticket_interactions i USING (ticket_id)
              WHERE i.author_role = 'agent' AND i.is_public GROUP BY ALL)""").fetchone()
    assert answered > 0 and within >= 0.95
    assert one(db, "SELECT count(DISTINCT channel) FROM tickets") == 4
    assert one(db, f"SELECT count(*) FROM {LATEST['tickets']} WHERE status IN ('solved', 'closed') AND category IS NULL") == 0
    assert one(db, f"""SELECT count(*) FROM {LATEST['tickets']} t JOIN (SELECT ticket_id, max(created_at) AS s FROM ticket_interactions
                       WHERE event_type = 'solved' GROUP BY 1) i USING (ticket_id)
                       WHERE t.status IN ('solved', 'closed') AND t.solved_at <> i.s""") == 0
    assert one(db, """SELECT count(*) FROM ticket_interactions WHERE event_type = 'escalated'
                      AND (escalation_tier IS NULL OR assignee_id IS NULL)""") == 0
    assert one(db, "SELECT count(*) FROM ticket_interactions WHERE event_type <> 'escalated' AND escalation_tier IS NOT NULL") == 0
    assert one(db, "SELECT count(*) FROM tickets WHERE solved_at < created_at OR updated_at < created_at") == 0
    assert one(db, """SELECT count(*) FROM ticket_interactions i JOIN (SELECT DISTINCT ticket_id, created_at FROM tickets) t
                      USING (ticket_id) WHERE i.created_at < t.created_at""") == 0
    assert one(db, "SELECT count(*) FROM csat_responses WHERE score NOT BETWEEN 1 AND 5 OR (score IS NULL) <> (responded_at IS NULL)") == 0
    assert one(db, f"""SELECT count(*) FROM csat_responses c JOIN {LATEST['tickets']} t USING (ticket_id)
                       WHERE t.status NOT IN ('solved', 'closed') OR c.sent_at < t.solved_at""") == 0


def test_manufacturing_shapes(db):
    perf_lo, perf_hi, q_lo, q_hi, bad_counts = db.execute("""
        WITH u AS (SELECT run_id, sum(epoch(ended_at - started_at)) AS s FROM downtime_events WHERE NOT is_planned GROUP BY 1),
        r AS (SELECT p.*, epoch(scheduled_end - scheduled_start) - planned_downtime_minutes * 60 - coalesce(u.s, 0) AS run_time
              FROM production_runs p LEFT JOIN u USING (run_id))
        SELECT min(ideal_cycle_seconds * total_count / run_time), max(ideal_cycle_seconds * total_count / run_time),
               min(good_count / total_count), max(good_count / total_count),
               count(*) FILTER (WHERE good_count + scrap_count > total_count OR least(good_count, scrap_count, rework_count) < 0)
        FROM r""").fetchone()
    assert 0.65 < perf_lo and perf_hi < 1.0
    assert 0.9 < q_lo and q_hi < 1.0
    assert bad_counts == 0
    assert one(db, """SELECT count(*) FROM production_runs r JOIN (SELECT run_id, sum(epoch(ended_at - started_at)) / 60 AS m
                      FROM downtime_events WHERE is_planned GROUP BY 1) d USING (run_id)
                      WHERE abs(r.planned_downtime_minutes - d.m) > 0.001""") == 0
    assert one(db, """SELECT count(*) FROM qc_inspections q JOIN production_runs r USING (run_id)
                      WHERE (q.result = 'fail' AND (q.follow_up = 'none' OR (q.follow_up = 'scrap' AND r.scrap_count = 0)
                                                    OR (q.follow_up = 'rework' AND r.rework_count = 0)))
                         OR (q.result = 'pass' AND q.follow_up <> 'none')""") == 0


def test_logistics_shapes(db):
    late = one(db, f"""SELECT avg(CASE WHEN CAST(delivered_at AS DATE) > promised_delivery_date THEN 1 ELSE 0 END)
                       FROM {LATEST['shipments']} WHERE status = 'delivered'""")
    assert 0.02 < late < 0.16, "about 8% delivered late"
    statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM shipments").fetchall()}
    assert {"created", "shipped", "delivered"} <= statuses
    assert one(db, """SELECT count(*) FROM (SELECT DISTINCT shipment_id, currency FROM shipments) s JOIN shipments USING (shipment_id)
                      WHERE shipments.currency <> s.currency""") == 0
    on_time_ship = one(db, """SELECT avg(CASE WHEN s.shipped_at <= o.paid_at + INTERVAL 48 HOUR THEN 1 ELSE 0 END)
                              FROM (SELECT DISTINCT order_id, shipped_at FROM shipments WHERE shipped_at IS NOT NULL) s
                              JOIN (SELECT order_id, max(paid_at) AS paid_at FROM orders GROUP BY 1) o USING (order_id)""")
    assert on_time_ship >= 0.95


def test_customers_exist_before_the_period_as_daily_deliveries(demo, db):
    root, _ = demo
    first = one(db, "SELECT min(CAST(updated_at AS DATE)) FROM customers")
    assert first < START, "the shop had customers before the period"
    e = BY_NAME["customers"]
    assert (root / e.folder / e.file_name(first.isoformat())).exists()
    new_share = one(db, """SELECT avg(CASE WHEN c.created_at >= o.created_at - INTERVAL 1 DAY THEN 1 ELSE 0 END)
                           FROM (SELECT DISTINCT order_id, customer_id, created_at FROM orders) o
                           JOIN (SELECT customer_id, min(created_at) AS created_at FROM customers GROUP BY 1) c USING (customer_id)""")
    assert 0.2 < new_share < 0.5


def test_a_frame_must_match_its_contract(tmp_path):
    from pipelines.exports.demo import _Frame, _Writer

    writer = _Writer(tmp_path, lambda _msg: None)
    try:
        with pytest.raises(ValueError, match="missing columns \\['rate'\\]"):
            writer.deliver(BY_NAME["fx_rates"], _Frame(data={"x": [1]}, select={"rate_date": "x", "currency": "x", "quote_currency": "x"}))
    finally:
        writer.close()
