"""Demo export generator: a small e-commerce business, written as its source systems would.

`generate_demo_exports(out_dir, days, scale, seed, end_date)` simulates `days` days of one
business (shop + web analytics, helpdesk, a small plant, ad platforms, finance, a 3PL) and
writes every export of `EXPORTS` into `out_dir/<system>/<export>/` in the export's format,
one file per day (`cadence == "daily"`, split on the UTC date of `event_date`) or one
snapshot file. Every day of the period gets a file, empty (header only) when nothing
happened, so a missing delivery can be told from a quiet day.

How it is built (one concept, one home):

* The column list and the types come from the contracts only: every export's generator
  returns a `_Frame` (numeric numpy arrays + one SQL expression per contract column) and
  `_Writer.deliver` loops over `export.columns`, casts to the contract type and writes
  with DuckDB `COPY ... TO`. A frame that misses a contract column, or has one the
  contract does not know, is an error.
* Data are drawn vectorised with numpy: ids, times (epoch seconds), money (integer
  cents) and codes (indexes into the contracts' allowed values) are numbers; strings
  are made in SQL. Randomness is a `numpy.random.Generator` per system and step,
  seeded from (seed, names), so the same (days, scale, seed, end_date) writes
  byte-identical files and one system's draws do not shift another's.
* The large web exports (sessions, events) are generated and written in blocks of
  days, so memory stays bounded at any scale; every other export is small enough to
  build in memory (tens of MB at scale 20 over a year).
* "Now" is the end of `end_date` (the export run happens the next morning): nothing
  carries a timestamp at or after it; a record whose next change would come later
  simply stays in its last state (open tickets, in-transit shipments, unpaid orders).
* Change exports (`change_timestamp` set) deliver one row per change, in the file of
  the day of the change (an order placed, paid, fulfilled, refunded...). The snapshots
  (products, campaigns) hold the latest version of each record.
* Customers: the shop existed before the period. Customers created in the year before
  the period are delivered in daily files for those days (at the same daily rate as
  customers created in the period), so every customer referenced by an order, a
  session or a ticket is in the customers export. Orders before the period are not
  part of the demo.

Generation is structured by system (`_finance`, `_catalog`, `_ads`, `_storefront`,
`_fulfilment`, `_inventory`, `_helpdesk`, `_mes`); every frame passes through
`_Writer.deliver`, the one place where a later `faults` option can alter rows.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np

from . import EXPORTS, BY_NAME
from ..sql import literal
from .ads import PLATFORMS
from .contract import Export
from .demo_faults import FAULT_DAYS
from .helpdesk import AUTHOR_ROLES, CHANNELS, INTERACTION_TYPES, PRIORITIES, TICKET_STATUSES
from .logistics import CARRIERS, RETURN_REASONS, SHIPMENT_STATUSES
from .mes import PASS_FAIL, QC_FOLLOW_UPS, SHIFTS
from .storefront import DEVICES, ORDER_STATUSES, SALES_CHANNELS, WEB_EVENT_TYPES

__all__ = ["generate_demo_exports"]

EPOCH = dt.date(1970, 1, 1)
DAY, HOUR, MINUTE = 86_400, 3_600, 60
NULL = -1  # sentinel for NULL in integer arrays (ids, epoch seconds, cents, codes)


def _code(values: tuple[str, ...], value: str) -> int:
    """Index of a contract's allowed value: a renamed value in a contract fails here, loudly."""
    return values.index(value)


# --- the business ----------------------------------------------------------------------

CURRENCIES = ("USD", "EUR", "GBP")
USD, EUR, GBP = 0, 1, 2
PRICE_FACTOR = np.array([1.0, 0.92, 0.80])  # list price per currency, relative to USD

COUNTRIES = ("US", "GB", "DE", "FR", "NL")
COUNTRY_P = (0.70, 0.12, 0.09, 0.06, 0.03)
COUNTRY_CURRENCY = np.array([USD, GBP, EUR, EUR, EUR])
COUNTRY_TAX = np.array([0.075, 0.20, 0.19, 0.20, 0.21])
COUNTRY_WAREHOUSE = np.array([0, 1, 1, 1, 1])
WAREHOUSES = ("WH-US-1", "WH-EU-1")
WAREHOUSE_SHARE = np.array([0.70, 0.30])
FREE_SHIPPING_CENTS = np.array([7500, 7000, 6500])
SHIPPING_FEE_CENTS = np.array([595, 549, 495])

# Weekday factors, Monday first.
SHOP_WEEKDAY = np.array([0.95, 0.92, 0.95, 1.00, 1.08, 1.25, 1.20])
SUPPORT_WEEKDAY = np.array([1.25, 1.10, 1.05, 1.00, 0.95, 0.80, 0.75])
# Hour-of-day weights (UTC = business timezone by default).
SHOP_HOURS = (1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 1.8, 2.6, 3.2, 3.5, 3.6,
              3.8, 3.7, 3.6, 3.6, 3.8, 4.2, 4.8, 5.4, 5.8, 5.4, 4.0, 2.2)
SUPPORT_HOURS = (0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 1.0, 2.0, 3.5, 4.5, 4.8, 4.6,
                 4.2, 4.4, 4.5, 4.3, 4.0, 3.5, 3.0, 2.6, 2.2, 1.6, 1.0, 0.5)

# Catalogue.
CATEGORIES = ("apparel", "footwear", "accessories", "home", "beauty", "outdoor")
CATEGORY_PRICE = np.array([(15, 90), (40, 180), (8, 60), (10, 140), (6, 50), (20, 260)], float)
CATEGORY_WEIGHT_G = np.array([(150, 900), (600, 1600), (50, 400), (300, 3000), (80, 500), (300, 2500)], float)
ADJECTIVES = ("Classic", "Urban", "Alpine", "Coastal", "Everyday", "Heritage", "Nordic", "Studio",
              "Trail", "Essential", "Vintage", "Modern", "Organic", "Summit", "Harbor", "Meadow")
NOUNS = (  # six per category, in CATEGORIES order
    "T-Shirt", "Hoodie", "Chinos", "Denim Jacket", "Linen Shirt", "Sweater",
    "Sneaker", "Runner", "Boot", "Loafer", "Sandal", "Trail Shoe",
    "Tote Bag", "Wallet", "Cap", "Scarf", "Belt", "Backpack",
    "Throw Blanket", "Mug Set", "Candle", "Cushion", "Planter", "Lamp",
    "Face Cream", "Lip Balm", "Body Wash", "Serum", "Hand Soap", "Shampoo",
    "Tent", "Water Bottle", "Rain Jacket", "Sleeping Bag", "Headlamp", "Camp Chair",
)
COLOURS = ("Black", "White", "Navy", "Olive", "Sand", "Grey", "Rust", "Sky")
SKUS_AT_SCALE_1 = 150
ROP_COVER_DAYS = 9  # reorder point = this many days of the main warehouse's expected demand
ORDER_UP_TO_DAYS = 21

# Storefront.
ORGANIC_SESSIONS_PER_DAY = 2000  # organic + direct, scale 1, before weekday factor
PAID_SESSIONS_PER_DAY = 1000  # from ad clicks when every campaign stream is live
LANDING_RATE = 0.85  # clicks that become a tracked session
MARKETPLACE_ORDERS_PER_DAY = 9
REGISTRATIONS_PER_DAY = 8  # accounts created without an order
CUSTOMER_EDITS_PER_DAY = 6
HISTORY_DAYS = 365  # customers created before the period
P_NEW_CUSTOMER = 0.33
P_BOUNCE, P_BROWSE, P_CHECKOUT, P_BUY = 0.38, 0.80, 0.50, 0.60
P_ADD_TO_CART = np.array([0.24, 0.18, 0.21])  # by device (desktop, mobile, tablet)
P_LOGGED_IN = 0.18
BLOCK_SESSIONS = 700_000  # web sessions generated and written per block
LAND_HOME, LAND_COLLECTION, LAND_PRODUCT, LAND_BLOG = 0, 1, 2, 3

# Ads: campaign streams (one flight after the other), shares of the paid clicks.
AD_STREAMS = (
    # platform, key, label, share, flight days, gap days, cpc, ctr, landing page
    ("google_ads", "brand", "Brand Search", 0.30, (91, 92), (0, 0), 0.45, 0.080, LAND_HOME),
    ("google_ads", "shopping", "Shopping", 0.25, (35, 63), (0, 7), 0.85, 0.020, LAND_PRODUCT),
    ("meta_ads", "prospecting", "Prospecting", 0.30, (35, 56), (0, 8), 0.70, 0.012, LAND_COLLECTION),
    ("tiktok_ads", "awareness", "Awareness", 0.15, (21, 35), (5, 21), 0.35, 0.009, LAND_PRODUCT),
)
PLATFORM_CURRENCY = {"google_ads": USD, "meta_ads": EUR, "tiktok_ads": GBP}
PLATFORM_LABEL = {"google_ads": "Google", "meta_ads": "Meta", "tiktok_ads": "TikTok"}
PLATFORM_TAG = {"google_ads": "gads", "meta_ads": "meta", "tiktok_ads": "ttk"}
UTM_SOURCES = ("google", "facebook", "tiktok")  # by PLATFORMS index
UTM_MEDIUMS = ("cpc", "paid_social", "paid_social")
CAMPAIGN_OWNERS = ("mk.anna.berg", "mk.ben.osei", "mk.chloe.martin")

# Logistics.
CARRIER_BASE_CENTS = {"ups": 650, "dhl": 590, "fedex": 700, "usps": 480}
SERVICE_LEVELS = ("standard", "express")

# Helpdesk.
TICKETS_PER_DAY = 25
SLA_SECONDS = {"email": 24 * HOUR, "social": 4 * HOUR, "chat": 10 * MINUTE, "phone": 5 * MINUTE}
ORDER_CATEGORIES = ("where_is_my_order", "return_request", "damaged_item", "wrong_item", "payment", "order_change")
ORDER_CATEGORY_P = (0.35, 0.20, 0.10, 0.08, 0.12, 0.15)
GENERAL_CATEGORIES = ("product_question", "account", "other")
GENERAL_CATEGORY_P = (0.45, 0.25, 0.30)
TICKET_CATEGORIES = ORDER_CATEGORIES + GENERAL_CATEGORIES + ("spam",)
ESCALATION_TIERS = ("tier2", "tier3")

# MES.
SHIFT_START = {"A": 6 * HOUR, "B": 14 * HOUR, "C": 22 * HOUR}
SHIFT_LENGTH = 8 * HOUR
BREAK_OFFSET, BREAK_LENGTH = 4 * HOUR, 30 * MINUTE
DOWNTIME_REASONS = ("setup", "changeover", "break", "jam", "material_shortage", "sensor_fault",
                    "tool_wear", "quality_hold", "minor_stop", "breakdown")
QC_SAMPLES = np.array([20, 32, 50])
QC_ACCEPT = np.array([1, 2, 3])  # defects allowed in the sample


# --- randomness and time ---------------------------------------------------------------

def _rng(seed: int, *salt: str) -> np.random.Generator:
    words = [int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "little") for s in salt]
    return np.random.default_rng(np.random.SeedSequence([seed % 2**63, *words]))


def _times_of_day(rng: np.random.Generator, n: int, weights: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(weights, float)
    return rng.choice(24, size=n, p=p / p.sum()) * HOUR + rng.integers(0, HOUR, size=n)


def _split_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For np.repeat(arange(n), counts): the owner of every item and its index within the owner."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - first[owner]


def _keep_last(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """Mask over rows already sorted by `keys`: True for the last row of each run of equal keys."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, bool)
    same_as_next = np.ones(n - 1, bool)
    for k in keys:
        same_as_next &= k[1:] == k[:-1]
    return np.append(~same_as_next, True)


# --- SQL snippets that turn numbers into the exports' values ----------------------------

def _pick(values, col: str) -> str:
    return f"CASE WHEN {col} >= 0 THEN [{', '.join(literal(v) for v in values)}][{col} + 1] END"


def _id(prefix: str, width: int, col: str) -> str:
    return f"CASE WHEN {col} >= 0 THEN printf('{prefix}%0{width}d', {col} + 1) END"


def _ts(col: str) -> str:
    return f"CASE WHEN {col} >= 0 THEN make_timestamp({col} * 1000000) END"


def _date(col: str) -> str:
    return f"(DATE '1970-01-01' + CAST({col} AS INTEGER))"


def _money(col: str) -> str:
    return f"CASE WHEN {col} >= 0 THEN {col} / 100 END"


def _int(col: str) -> str:
    return f"CASE WHEN {col} >= 0 THEN {col} END"


def _sku(col: str) -> str:
    return _id("SKU-", 5, col)


def _customer(col: str) -> str:
    return _id("C", 8, col)


def _order(col: str) -> str:
    return _id("O", 9, col)


def _session(col: str) -> str:
    return _id("S", 10, col)


def _order_line(col: str) -> str:
    return _id("OL", 10, col)


# --- writing ---------------------------------------------------------------------------

@dataclass
class _Frame:
    """Rows of one export: numeric columns + one SQL expression per contract column."""

    data: dict[str, np.ndarray]
    select: dict[str, str]
    days: tuple[int, int] | None = None  # epoch days [first, last] delivered (daily exports)


def _split_lines(src: Path, sizes: list[int], targets: list[Path], header: bool, chunk: int = 1 << 26) -> None:
    """Cut a text file of one row per line (after an optional header line) into parts of `sizes` rows.

    Every part gets the header; the bytes are otherwise copied as they are.
    """
    ends = np.cumsum([int(header)] + list(sizes))  # lines up to the end of the header, then of every part
    total = int(ends[-1])
    offsets = np.zeros(len(ends), np.int64)  # byte offset just after line number ends[i]
    seen = base = 0
    with open(src, "rb") as f:
        while buf := f.read(chunk):
            nl = np.flatnonzero(np.frombuffer(buf, np.uint8) == 10)
            hit = (ends > seen) & (ends <= seen + len(nl))
            offsets[hit] = base + nl[ends[hit] - seen - 1] + 1
            seen += len(nl)
            base += len(buf)
    if seen != total or offsets[-1] != base:
        raise AssertionError(f"{src}: {seen} lines in {base} bytes, expected {total} lines, one per row")
    with open(src, "rb") as f:
        head = f.read(int(offsets[0]))
        for target, start, stop in zip(targets, offsets[:-1], offsets[1:]):
            with open(target, "wb") as out:
                out.write(head)
                out.flush()
                _copy_range(f, out, int(start), int(stop - start))


def _copy_range(src, dst, start: int, length: int) -> None:
    """Append src[start:start+length] to dst (in the kernel where the platform allows)."""
    try:
        while length > 0:
            n = os.copy_file_range(src.fileno(), dst.fileno(), length, start)
            if n == 0:
                break
            start, length = start + n, length - n
    except (AttributeError, OSError):
        pass
    src.seek(start)
    while length > 0:
        piece = src.read(min(length, 1 << 24))
        dst.write(piece)
        length -= len(piece)


class _Writer:
    """Writes frames through DuckDB, typed and ordered as the contract declares."""

    FORMAT_OPTIONS = {
        "csv": "FORMAT csv, HEADER true, DELIMITER {delimiter}, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S', DATEFORMAT '%Y-%m-%d'",
        "jsonl": "FORMAT json",
        "parquet": "FORMAT parquet, COMPRESSION zstd",
    }

    def __init__(self, out_dir: Path, say: Callable[[str], None]):
        self.out_dir = out_dir
        self.say = say
        self._tmp = tempfile.mkdtemp(prefix="kpi-demo-")
        self.con = duckdb.connect(config={
            "preserve_insertion_order": True, "temp_directory": self._tmp, "memory_limit": "2GB"})
        self.con.execute("SET enable_progress_bar = false")
        self.rows: dict[str, int] = {}
        self.files: dict[str, int] = {}
        self._days: dict[str, set[int]] = {}
        self._started: dict[str, float] = {}

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _typed_select(self, export: Export, select: dict[str, str]) -> str:
        missing = [c for c in export.column_names if c not in select]
        unknown = sorted(set(select) - set(export.column_names))
        if missing or unknown:
            raise ValueError(f"demo frame for export {export.name}: missing columns {missing}, unknown columns {unknown}")
        return ", ".join(f'CAST({select[c.name]} AS {c.type}) AS "{c.name}"' for c in export.columns)

    def _order_by(self, export: Export) -> str:
        """Rows in a file: by event date and key; a change export repeats keys, so then by every column."""
        first = [export.event_date] if export.event_date else []
        keys = first + [k for k in export.primary_key if k not in first]
        rest = [c for c in export.column_names if c not in keys] if export.change_timestamp else []
        return ", ".join(f'"{c}"' for c in keys + rest)

    def _options(self, export: Export) -> str:
        return self.FORMAT_OPTIONS[export.format].format(delimiter=literal(export.delimiter))

    def _copy(self, export: Export, source: str, path: Path) -> None:
        cols = ", ".join(f'"{c}"' for c in export.column_names)
        self.con.execute(f"COPY (SELECT {cols} FROM {source} ORDER BY {self._order_by(export)}) "
                         f"TO {literal(str(path))} ({self._options(export)})")

    def deliver(self, export: Export, frame: _Frame) -> None:
        """Write one frame of an export (a daily export may come in several frames of whole days)."""
        self._started.setdefault(export.name, time.perf_counter())
        folder = self.out_dir / export.folder
        folder.mkdir(parents=True, exist_ok=True)
        typed = f"(SELECT {self._typed_select(export, frame.select)} FROM __frame)"
        self.con.register("__frame", frame.data)
        try:
            if export.cadence == "snapshot":
                self._copy(export, typed, folder / export.file_name())
                self.files[export.name] = self.files.get(export.name, 0) + 1
                n = len(next(iter(frame.data.values()))) if frame.data else 0
            else:
                n = self._deliver_days(export, frame, folder, typed)
            self.rows[export.name] = self.rows.get(export.name, 0) + n
        finally:
            self.con.unregister("__frame")
            self.con.execute("DROP TABLE IF EXISTS __stage")

    def _deliver_days(self, export: Export, frame: _Frame, folder: Path, typed: str) -> int:
        assert frame.days is not None, f"daily export {export.name} needs the days it delivers"
        lo, hi = frame.days
        column = export.column(export.event_date)
        day = f"CAST(CAST({frame.select[column.name]} AS {column.type}) AS DATE)"
        counts = dict(self.con.execute(f"SELECT {day} AS d, count(*) FROM __frame GROUP BY d").fetchall())
        stray = {d: c for d, c in counts.items() if d is None or not (lo <= (d - EPOCH).days <= hi)}
        if stray:
            raise AssertionError(f"demo export {export.name}: rows dated outside "
                                 f"{EPOCH + dt.timedelta(days=lo)}..{EPOCH + dt.timedelta(days=hi)}: {stray}")
        done = self._days.setdefault(export.name, set())
        again = done.intersection(range(lo, hi + 1))
        if again:
            raise AssertionError(f"demo export {export.name}: day {EPOCH + dt.timedelta(days=min(again))} delivered twice")
        done.update(range(lo, hi + 1))
        isos = [(EPOCH + dt.timedelta(days=d)).isoformat() for d in range(lo, hi + 1)]
        targets = [folder / export.file_name(iso) for iso in isos]
        self.files[export.name] = self.files.get(export.name, 0) + len(targets)
        if export.format == "parquet":  # binary: typed once, then one COPY per day
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE __stage AS SELECT *, CAST(\"{column.name}\" AS DATE) AS __day FROM {typed}")
            for iso, target in zip(isos, targets):
                self._copy(export, f"__stage WHERE __day = DATE '{iso}'", target)
        elif lo == hi:  # a frame of one day: straight into its file
            self._copy(export, typed, targets[0])
        else:
            # Text formats: one ordered COPY for the frame (a COPY per file costs ~2 ms), cut at the day
            # boundaries: each day file is byte for byte what a COPY of that day alone writes (same
            # header, same lines). Not PARTITION_BY: DuckDB does not keep the row order within a partition.
            sizes = [counts.get(EPOCH + dt.timedelta(days=d), 0) for d in range(lo, hi + 1)]
            whole = folder / f".demo-{export.name}.part"
            try:
                self._copy(export, typed, whole)
                _split_lines(whole, sizes, targets, header=export.format == "csv")
            finally:
                whole.unlink(missing_ok=True)
        return sum(counts.values())

    def done(self, export: Export) -> None:
        secs = time.perf_counter() - self._started.get(export.name, time.perf_counter())
        self.say(f"{export.system}/{export.name}: {self.rows.get(export.name, 0):,} rows in "
                 f"{self.files.get(export.name, 0):,} files ({secs:.1f} s)")


# --- the world the systems share -------------------------------------------------------

class _World:
    """Period, knobs and the entities one system hands to the next."""

    def __init__(self, days: int, scale: float, seed: int, end: dt.date, writer: _Writer):
        self.n_days, self.scale, self.seed, self.out = days, scale, seed, writer
        self.start = end - dt.timedelta(days=days - 1)
        self.day0 = (self.start - EPOCH).days
        self.last_day = self.day0 + days - 1
        self.days = self.day0 + np.arange(days)  # epoch days of the period
        self.cutoff = (self.last_day + 1) * DAY  # "now": nothing happens at or after it
        self.weekday = (self.days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        noise = self.rng("calendar", "shop").lognormal(0.0, 0.05, days)
        self.shop_factor = SHOP_WEEKDAY[self.weekday] * noise
        self.faults = _Faults(frozenset(), self)  # set by generate_demo_exports(faults=...)

    def rng(self, *salt: str) -> np.random.Generator:
        return _rng(self.seed, *salt)

    def deliver(self, name: str, frame: _Frame, done: bool = True) -> None:
        export = BY_NAME[name]
        self.out.deliver(export, self.faults.apply(name, frame))
        if done:
            self.out.done(export)

    def period(self) -> tuple[int, int]:
        return (self.day0, self.last_day)

    # Catalogue helpers (set by _catalog).
    def draw_sku(self, rng: np.random.Generator, size) -> np.ndarray:
        return np.minimum(np.searchsorted(self.sku_cdf, rng.random(size), side="right"), len(self.sku_cdf) - 1)

    def other_sku(self, rng: np.random.Generator, sku: np.ndarray) -> np.ndarray:
        """A different active SKU (a picking error)."""
        pos = self.active_pos[sku]
        n = len(self.active_idx)
        return self.active_idx[(pos + 1 + rng.integers(0, n - 1, len(sku))) % n]


# --- finance ---------------------------------------------------------------------------

def _finance(w: _World) -> None:
    rng = w.rng("finance", "fx_rates")
    steps = rng.normal(0.0, 0.003, (2, w.n_days))
    steps[:, 0] = 0.0
    rates = np.vstack([np.ones(w.n_days), 1.08 * np.exp(np.cumsum(steps[0])), 1.27 * np.exp(np.cumsum(steps[1]))])
    w.fx = np.round(rates, 6)  # (currency, period day): units of USD per unit
    w.deliver("fx_rates", _Frame(
        data={"day": np.tile(w.days, 3), "cur": np.repeat(np.arange(3), w.n_days), "rate": w.fx.ravel()},
        select={"rate_date": _date("day"), "currency": _pick(CURRENCIES, "cur"),
                "quote_currency": literal("USD"), "rate": "rate"},
        days=w.period()))


# --- storefront: catalogue -------------------------------------------------------------

def _catalog(w: _World) -> None:
    rng = w.rng("storefront", "products")
    n = max(30, round(SKUS_AT_SCALE_1 * math.sqrt(w.scale)))
    cat = rng.integers(0, len(CATEGORIES), n)
    lo, hi = CATEGORY_PRICE[cat].T
    dollars = np.maximum(np.round(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 5)
    price = np.maximum(np.round(dollars[None, :] * PRICE_FACTOR[:, None]), 4).astype(np.int64) * 100 - 1  # x.99
    cost = np.round(price[USD] * rng.uniform(0.30, 0.55, n)).astype(np.int64)
    wlo, whi = CATEGORY_WEIGHT_G[cat].T
    weight_g = np.round(rng.uniform(wlo, whi)).astype(np.int64)
    active = rng.random(n) >= 0.04
    active[:10] = True
    popularity = 1.0 / (rng.permutation(n) + 1.0) ** 0.9 * active
    popularity /= popularity.sum()

    # Expected units per day (scale 1 ~ 100 orders x 1.9 lines x 1.3 units), for stock policy.
    units = _expected_orders_per_day() * w.scale * 1.9 * 1.32 * popularity
    reorder_point = np.maximum(5, np.ceil(units * WAREHOUSE_SHARE[0] * ROP_COVER_DAYS)).astype(np.int64)
    old = rng.random(n) < 0.85
    updated = np.where(
        old, (w.day0 - rng.integers(5, 500, n)) * DAY + _times_of_day(rng, n, SUPPORT_HOURS),
        w.day0 * DAY + rng.integers(0, w.n_days * DAY, n))

    w.n_sku, w.sku_category, w.sku_price, w.sku_cost, w.sku_weight_g = n, cat, price, cost, weight_g
    w.sku_active, w.sku_units, w.sku_rop = active, units, reorder_point
    w.active_idx = np.flatnonzero(active)
    w.active_pos = np.full(n, NULL)
    w.active_pos[w.active_idx] = np.arange(len(w.active_idx))
    cdf = np.cumsum(popularity)
    w.sku_cdf = cdf / cdf[-1]

    noun = cat * 6 + rng.integers(0, 6, n)
    w.deliver("products", _Frame(
        data={"sku": np.arange(n), "adj": rng.integers(0, len(ADJECTIVES), n), "noun": noun,
              "colour": rng.integers(0, len(COLOURS), n), "cat": cat, "price": price[USD], "cost": cost,
              "rop": reorder_point, "active": active, "updated": updated},
        select={"sku": _sku("sku"),
                "product_name": f"{_pick(ADJECTIVES, 'adj')} || ' ' || {_pick(NOUNS, 'noun')} || ' ' || {_pick(COLOURS, 'colour')}",
                "category": _pick(CATEGORIES, "cat"), "unit_price": _money("price"), "unit_cost": _money("cost"),
                "currency": literal("USD"), "reorder_point": "rop", "is_active": "active", "updated_at": _ts("updated")}))


def _expected_orders_per_day() -> float:
    """Orders per day at scale 1 on an average weekday (sessions x funnel + marketplace)."""
    p_atc = 0.36 * P_ADD_TO_CART[0] + 0.55 * P_ADD_TO_CART[1] + 0.09 * P_ADD_TO_CART[2]
    p_buy = (1 - P_BOUNCE) * P_BROWSE * p_atc * P_CHECKOUT * P_BUY
    return (ORGANIC_SESSIONS_PER_DAY + PAID_SESSIONS_PER_DAY) * p_buy + MARKETPLACE_ORDERS_PER_DAY


# --- ads -------------------------------------------------------------------------------

def _ads(w: _World) -> None:
    rng = w.rng("ads", "campaigns")
    parts = []
    for s, (platform, _key, _label, _share, (flo, fhi), (glo, ghi), _cpc, _ctr, _land) in enumerate(AD_STREAMS):
        k = w.n_days // flo + 3
        lens = rng.integers(flo, fhi + 1, k)
        gaps = rng.integers(glo, ghi + 1, k)
        # Streams start with the period, so every live campaign-day has its spend row in the data.
        first = w.day0 + rng.integers(glo, ghi + 1)
        starts = first + np.concatenate([[0], np.cumsum(lens + gaps)[:-1]])
        keep = starts <= w.last_day
        parts.append((np.full(keep.sum(), s), starts[keep], lens[keep]))
    stream = np.concatenate([p[0] for p in parts])
    start = np.concatenate([p[1] for p in parts])
    length = np.concatenate([p[2] for p in parts])
    order = np.lexsort((stream, start))
    stream, start, length = stream[order], start[order], length[order]
    end = start + length - 1
    nc = len(stream)

    platform = np.array([_code(PLATFORMS, AD_STREAMS[s][0]) for s in range(len(AD_STREAMS))])[stream]
    currency = np.array([PLATFORM_CURRENCY[st[0]] for st in AD_STREAMS])[stream]
    share = np.array([st[3] for st in AD_STREAMS])[stream]
    cpc = np.array([st[6] for st in AD_STREAMS])[stream] * rng.uniform(0.85, 1.20, nc)
    ctr = np.array([st[7] for st in AD_STREAMS])[stream] * rng.uniform(0.80, 1.20, nc)
    clicks_plan = PAID_SESSIONS_PER_DAY / LANDING_RATE * w.scale * share * rng.uniform(0.8, 1.2, nc)
    daily_plan = clicks_plan * cpc  # account currency units
    budget = (np.ceil(daily_plan * length / 100.0) * 100 * 100).astype(np.int64)  # cents, whole hundreds
    approved = (start - rng.integers(3, 22, nc)) * DAY + rng.integers(9 * HOUR, 17 * HOUR, nc)
    changed = start * DAY + (rng.random(nc) * length * DAY).astype(np.int64)
    updated = np.where((rng.random(nc) < 0.3) & (changed < w.cutoff), changed, approved + rng.integers(MINUTE, DAY, nc))
    updated = np.minimum(updated, w.cutoff - 1)

    # Per-campaign names and UTM tags (one string per campaign, shared with the web sessions).
    start_iso = [(EPOCH + dt.timedelta(days=int(d))).isoformat() for d in start]
    w.campaign_tag = [f"{PLATFORM_TAG[AD_STREAMS[s][0]]}_{AD_STREAMS[s][1]}_{d.replace('-', '')}"
                      for s, d in zip(stream, start_iso)]
    names = [f"{PLATFORM_LABEL[AD_STREAMS[s][0]]} {AD_STREAMS[s][2]} {d}" for s, d in zip(stream, start_iso)]
    w.campaign_stream, w.campaign_platform = stream, platform

    w.deliver("campaigns", _Frame(
        data={"c": np.arange(nc), "plat": platform, "budget": budget, "cur": currency, "start": start,
              "stop": end, "approved": approved, "owner": rng.integers(0, len(CAMPAIGN_OWNERS), nc), "updated": updated},
        select={"campaign_id": _id("CMP-", 4, "c"), "platform": _pick(PLATFORMS, "plat"),
                "campaign_name": _pick(names, "c"), "utm_campaign": _pick(w.campaign_tag, "c"),
                "budget_amount": _money("budget"), "currency": _pick(CURRENCIES, "cur"),
                "start_date": _date("start"), "end_date": _date("stop"), "approved_at": _ts("approved"),
                "owner": _pick(CAMPAIGN_OWNERS, "owner"), "updated_at": _ts("updated")}))

    # A spend row for every live campaign-day of the period.
    rng = w.rng("ads", "ad_spend_daily")
    a, b = np.maximum(start, w.day0), np.minimum(end, w.last_day)
    camp, k = _split_counts(np.maximum(b - a + 1, 0))
    day = a[camp] + k
    spend = daily_plan[camp] * rng.uniform(0.88, 1.08, len(camp))
    clicks = np.floor(spend / (cpc[camp] * rng.uniform(0.93, 1.07, len(camp)))).astype(np.int64)
    impressions = np.ceil(clicks / (ctr[camp] * rng.uniform(0.85, 1.15, len(camp)))).astype(np.int64) + rng.integers(0, 50, len(camp))
    w.paid_day, w.paid_campaign = day, camp
    w.paid_sessions = rng.binomial(clicks, LANDING_RATE)
    w.deliver("ad_spend_daily", _Frame(
        data={"day": day, "plat": platform[camp], "c": camp, "impr": impressions, "clicks": clicks,
              "spend": np.round(spend * 100).astype(np.int64), "cur": currency[camp]},
        select={"spend_date": _date("day"), "platform": _pick(PLATFORMS, "plat"), "campaign_id": _id("CMP-", 4, "c"),
                "impressions": "impr", "clicks": "clicks", "spend_amount": _money("spend"),
                "currency": _pick(CURRENCIES, "cur")},
        days=w.period()))


# --- storefront: sessions, events, orders, customers -----------------------------------

class _Customers:
    """Customers, ids given in order of creation (per block); `before_period_day[d]`: ids below it existed at day d's start."""

    def __init__(self, w: _World):
        rng = w.rng("storefront", "customers", "history")
        hist_days = w.day0 - HISTORY_DAYS + np.arange(HISTORY_DAYS)
        rate = (P_NEW_CUSTOMER * _expected_orders_per_day() + REGISTRATIONS_PER_DAY) * w.scale
        counts = rng.poisson(rate * SHOP_WEEKDAY[(hist_days + 3) % 7])
        created = np.sort(np.repeat(hist_days, counts) * DAY + _times_of_day(rng, counts.sum(), SHOP_HOURS))
        self.hist_days = hist_days
        self.created = [created]
        self.country = [rng.choice(len(COUNTRIES), len(created), p=COUNTRY_P)]
        self.opt_in = [rng.random(len(created)) < 0.55]
        self.n = len(created)
        self.before_period_day = np.zeros(w.n_days, np.int64)  # ids < this existed at the day's start

    def countries(self) -> np.ndarray:
        if len(self.country) > 1:
            self.country = [np.concatenate(self.country)]
        return self.country[0]

    def add(self, rng: np.random.Generator, created: np.ndarray) -> np.ndarray:
        """Create customers; returns their ids (in the order given)."""
        rank = np.empty(len(created), np.int64)
        order = np.argsort(created, kind="stable")
        rank[order] = np.arange(len(created))
        self.created.append(created[order])
        self.country.append(rng.choice(len(COUNTRIES), len(created), p=COUNTRY_P))
        self.opt_in.append(rng.random(len(created)) < 0.55)
        ids = self.n + rank
        self.n += len(created)
        return ids


def _storefront(w: _World) -> None:
    cust = _Customers(w)
    w.customers = cust
    per_day = (ORGANIC_SESSIONS_PER_DAY + PAID_SESSIONS_PER_DAY) * w.scale * 1.3
    block = int(max(1, min(w.n_days, BLOCK_SESSIONS // per_day)))
    state = {"session": 0, "event": 0, "order": 0, "carry": None}
    orders: list[dict[str, np.ndarray]] = []
    for b0 in range(0, w.n_days, block):
        b1 = min(w.n_days, b0 + block)
        orders.append(_web_block(w, w.rng("storefront", "web", str(b0)), b0, b1, state, cust))
        if b1 < w.n_days:
            w.out.say(f"storefront/web: days {b0 + 1}-{b1} of {w.n_days} written")
    w.out.done(BY_NAME["web_sessions"])
    w.out.done(BY_NAME["web_events"])
    w.orders = {k: np.concatenate([o[k] for o in orders]) for k in orders[0]}
    _customers_export(w, cust)


def _web_block(w: _World, rng: np.random.Generator, b0: int, b1: int, state: dict, cust: _Customers) -> dict[str, np.ndarray]:
    """Sessions, their events and orders for period days [b0, b1); writes the web exports of those days."""
    bdays = np.arange(b0, b1)
    # Sessions: organic/direct by weekday, paid from the ad clicks of the day.
    org = rng.poisson(ORGANIC_SESSIONS_PER_DAY * w.scale * w.shop_factor[bdays])
    paid = (w.paid_day >= w.day0 + b0) & (w.paid_day < w.day0 + b1)
    day = np.concatenate([np.repeat(w.day0 + bdays, org), np.repeat(w.paid_day[paid], w.paid_sessions[paid])])
    camp = np.concatenate([np.full(org.sum(), NULL), np.repeat(w.paid_campaign[paid], w.paid_sessions[paid])])
    start = day * DAY + _times_of_day(rng, len(day), SHOP_HOURS)
    order = np.argsort(start, kind="stable")
    day, camp, start = day[order], camp[order], start[order]
    n = len(day)
    is_paid = camp >= 0
    app = rng.random(n) < np.where(is_paid, 0.10, 0.24)
    channel = np.where(app, _code(SALES_CHANNELS, "mobile_app"), _code(SALES_CHANNELS, "web"))
    u = rng.random(n)
    desktop, mobile, tablet = (_code(DEVICES, d) for d in ("desktop", "mobile", "tablet"))
    device = np.where(app, np.where(u < 0.88, mobile, tablet),
                      np.where(u < 0.45, desktop, np.where(u < 0.90, mobile, tablet)))

    # Funnel: page views -> product views -> add to cart -> checkout -> purchase.
    browse = rng.random(n) >= P_BOUNCE
    n_page = 1 + browse * rng.poisson(1.2, n)
    viewed = browse & (rng.random(n) < P_BROWSE)
    n_prod = viewed * (1 + rng.poisson(1.3, n))
    atc = viewed & (rng.random(n) < P_ADD_TO_CART[device])
    checkout = atc & (rng.random(n) < P_CHECKOUT)
    buy = checkout & (rng.random(n) < P_BUY)
    web_sess = np.flatnonzero(buy)
    L, skus, qty = _draw_baskets(w, rng, len(web_sess))
    n_atc = np.where(atc, 1 + (rng.random(n) < 0.35), 0)
    n_atc[web_sess] = L
    n_prod = np.maximum(n_prod, n_atc)
    sess_order = np.full(n, NULL)
    sess_order[web_sess] = np.arange(len(web_sess))

    # Events in funnel order within each session, a few seconds to minutes apart.
    counts = n_page + n_prod + n_atc + checkout + buy
    ev_s, pos = _split_counts(counts)
    first = np.cumsum(counts) - counts
    b_page = n_page[ev_s]
    b_prod = b_page + n_prod[ev_s]
    b_atc = b_prod + n_atc[ev_s]
    b_co = b_atc + checkout[ev_s]
    etype = np.select([pos < b_page, pos < b_prod, pos < b_atc, pos < b_co],
                      [_code(WEB_EVENT_TYPES, t) for t in ("page_view", "product_view", "add_to_cart", "checkout_started")],
                      _code(WEB_EVENT_TYPES, "purchase"))
    gap = (3 + rng.exponential(35.0, len(ev_s))).astype(np.int64)
    gap[first[counts > 0]] = 0
    cg = np.cumsum(gap)
    t = start[ev_s] + cg - cg[first][ev_s]
    end = t[first + counts - 1] + 5 + rng.exponential(25.0, n).astype(np.int64)

    ev_sku = np.full(len(ev_s), NULL)
    ev_qty = np.full(len(ev_s), NULL)
    ev_order = np.full(len(ev_s), NULL)
    is_prod = np.flatnonzero(etype == _code(WEB_EVENT_TYPES, "product_view"))
    j, k = sess_order[ev_s[is_prod]], pos[is_prod] - b_page[is_prod]
    jj, kk = np.maximum(j, 0), np.minimum(k, 3)
    from_basket = (j >= 0) & (k < L[jj] if len(L) else False)
    ev_sku[is_prod] = np.where(from_basket, skus[jj, kk] if len(L) else 0, w.draw_sku(rng, len(is_prod)))
    is_atc = np.flatnonzero(etype == _code(WEB_EVENT_TYPES, "add_to_cart"))
    s_atc, a = ev_s[is_atc], pos[is_atc] - b_prod[is_atc]
    ev_sku[is_atc] = ev_sku[first[s_atc] + n_page[s_atc] + a]  # the product viewed before
    j = sess_order[s_atc]
    ev_qty[is_atc] = np.where(j >= 0, qty[np.maximum(j, 0), np.minimum(a, 3)] if len(L) else 1, 1)

    # Sessions still running at the export time are not exported yet (nor are their orders).
    keep = end < w.cutoff
    keep_order = keep[web_sess]
    web_sess, L, skus, qty = web_sess[keep_order], L[keep_order], skus[keep_order], qty[keep_order]
    web_created = t[first[web_sess] + counts[web_sess] - 1]

    # Marketplace orders (no web session).
    mk_n = rng.poisson(MARKETPLACE_ORDERS_PER_DAY * w.scale * w.shop_factor[bdays])
    mk_created = np.repeat(w.day0 + bdays, mk_n) * DAY + _times_of_day(rng, mk_n.sum(), SHOP_HOURS)
    mL, mskus, mqty = _draw_baskets(w, rng, len(mk_created))

    # Order ids by time of placing; customers new (created at checkout) or returning.
    created = np.concatenate([web_created, mk_created])
    m = len(created)
    rank = np.empty(m, np.int64)
    rank[np.argsort(created, kind="stable")] = np.arange(m)
    oid = state["order"] + rank
    state["order"] += m
    is_new = rng.random(m) < P_NEW_CUSTOMER
    sess_start = np.concatenate([start[web_sess], np.zeros(len(mk_created), np.int64)])
    web = np.arange(m) < len(web_sess)
    new_created = np.where(web, np.maximum(sess_start, created - rng.integers(30, 300, m)), created - rng.integers(5, 60, m))
    reg_n = rng.poisson(REGISTRATIONS_PER_DAY * w.scale * w.shop_factor[bdays])
    reg_created = np.repeat(w.day0 + bdays, reg_n) * DAY + _times_of_day(rng, reg_n.sum(), SHOP_HOURS)
    n_before_block = cust.n
    ids = cust.add(rng, np.concatenate([new_created[is_new], reg_created]))
    block_created = cust.created[-1]
    before = n_before_block + np.searchsorted(block_created, (w.day0 + bdays) * DAY)
    cust.before_period_day[bdays] = before
    order_day = np.clip(created // DAY - w.day0, b0, b1 - 1) - b0
    pool = before[order_day]
    returning = np.floor(rng.random(m) * pool).astype(np.int64)
    customer = np.where(is_new | (pool == 0), NULL, returning)
    customer[is_new] = ids[: is_new.sum()]
    if (customer < 0).any():  # no customer existed yet: make these orders new customers too
        lost = np.flatnonzero(customer < 0)
        customer[lost] = cust.add(rng, new_created[lost])

    # Session attributes.
    s_customer = np.where(rng.random(n) < P_LOGGED_IN, np.floor(rng.random(n) * before[day - w.day0 - b0]).astype(np.int64), NULL)
    s_customer[before[day - w.day0 - b0] == 0] = NULL
    s_customer[web_sess] = customer[: len(web_sess)]
    visitor = np.where(s_customer >= 0, 1_000_000_000 + s_customer, rng.integers(0, 1_000_000_000, n))
    stream = np.where(is_paid, w.campaign_stream[np.maximum(camp, 0)], NULL)
    land = np.where(is_paid, np.array([s[8] for s in AD_STREAMS])[np.maximum(stream, 0)],
                    rng.choice(4, n, p=[0.40, 0.30, 0.25, 0.05]))
    land_sku = w.draw_sku(rng, n)
    sid = np.full(n, NULL)
    sid[keep] = state["session"] + np.arange(keep.sum())
    state["session"] += keep.sum()
    period = (w.day0 + b0, w.day0 + b1 - 1)
    per_day = n >= 20_000 * (b1 - b0)  # big days: one COPY per day file, nothing written twice
    plat = np.where(is_paid, w.campaign_platform[np.maximum(camp, 0)], NULL)
    _deliver_web(w, "web_sessions", per_day, period, start[keep] // DAY, dict(
        data={"sid": sid[keep], "visitor": visitor[keep], "cust": s_customer[keep], "start": start[keep],
              "stop": end[keep], "device": device[keep], "chan": channel[keep], "plat": plat[keep], "camp": camp[keep],
              "land": land[keep], "land_sku": land_sku[keep], "land_cat": w.sku_category[land_sku][keep]},
        select={"session_id": _session("sid"), "visitor_id": _id("V", 10, "visitor"), "customer_id": _customer("cust"),
                "started_at": _ts("start"), "ended_at": _ts("stop"), "device": _pick(DEVICES, "device"),
                "sales_channel": _pick(SALES_CHANNELS, "chan"), "utm_source": _pick(UTM_SOURCES, "plat"),
                "utm_medium": _pick(UTM_MEDIUMS, "plat"), "utm_campaign": _pick(w.campaign_tag, "camp"),
                "landing_page": f"CASE land WHEN {LAND_HOME} THEN '/' WHEN {LAND_COLLECTION} THEN '/collections/' || "
                                f"{_pick(CATEGORIES, 'land_cat')} WHEN {LAND_PRODUCT} THEN '/products/' || lower({_sku('land_sku')}) "
                                f"ELSE '/blog/' || {_pick(CATEGORIES, 'land_cat')} || '-guide' END"}))

    # Events: ids by session then position; those after the block's last midnight go to the next block.
    keep_e = keep[ev_s]
    order_of_session = np.full(n, NULL)
    order_of_session[web_sess] = oid[: len(web_sess)]
    purchase = np.flatnonzero(etype == _code(WEB_EVENT_TYPES, "purchase"))
    ev_order[purchase] = order_of_session[ev_s[purchase]]
    ev = {"sid": sid[ev_s], "t": t, "type": etype, "sku": ev_sku, "qty": ev_qty, "oid": ev_order}
    ev = {k: v[keep_e] for k, v in ev.items()}
    ev = {"eid": state["event"] + np.arange(len(ev["t"])), **ev}
    state["event"] += len(ev["t"])
    if state["carry"] is not None:
        ev = {k: np.concatenate([state["carry"][k], v]) for k, v in ev.items()}
    later = ev["t"] >= (period[1] + 1) * DAY
    state["carry"] = {k: v[later] for k, v in ev.items()}
    _deliver_web(w, "web_events", per_day, period, ev["t"][~later] // DAY, dict(
        data={k: v[~later] for k, v in ev.items()},
        select={"event_id": _id("E", 11, "eid"), "session_id": _session("sid"), "occurred_at": _ts("t"),
                "event_type": _pick(WEB_EVENT_TYPES, "type"), "sku": _sku("sku"), "quantity": _int("qty"),
                "order_id": _order("oid")}))

    # Orders of the block, in order-id order.
    perm = np.argsort(oid)
    web_chan = channel[web_sess]
    return {
        "created": created[perm],
        "customer": customer[perm],
        "session": np.concatenate([sid[web_sess], np.full(len(mk_created), NULL)])[perm],
        "channel": np.concatenate([web_chan, np.full(len(mk_created), _code(SALES_CHANNELS, "marketplace"))])[perm],
        "n_lines": np.concatenate([L, mL])[perm],
        "skus": np.concatenate([skus, mskus])[perm],
        "qty": np.concatenate([qty, mqty])[perm],
    }


def _deliver_web(w: _World, name: str, per_day: bool, period: tuple[int, int], day: np.ndarray, frame: dict) -> None:
    """Deliver a block of a web export: as one frame, or one frame per day (rows grouped by `day`)."""
    if not per_day:
        w.deliver(name, _Frame(frame["data"], frame["select"], days=period), done=False)
        return
    order = np.argsort(day, kind="stable")
    bounds = np.searchsorted(day[order], np.arange(period[0], period[1] + 2))
    for i, d in enumerate(range(period[0], period[1] + 1)):
        rows = order[bounds[i]:bounds[i + 1]]
        w.deliver(name, _Frame({k: v[rows] for k, v in frame["data"].items()}, frame["select"], days=(d, d)), done=False)


def _draw_baskets(w: _World, rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-4 lines per order, distinct popular SKUs, mostly one unit each."""
    n_lines = 1 + rng.binomial(3, 0.3, m)
    skus = w.draw_sku(rng, (m, 4))
    for j in range(1, 4):
        for _ in range(6):
            dup = (skus[:, :j] == skus[:, j:j + 1]).any(axis=1)
            if not dup.any():
                break
            skus[dup, j] = w.draw_sku(rng, dup.sum())
    qty = rng.choice([1, 2, 3], size=(m, 4), p=[0.75, 0.18, 0.07])
    return n_lines, skus, qty


def _customers_export(w: _World, cust: _Customers) -> None:
    rng = w.rng("storefront", "customers", "edits")
    created = np.concatenate(cust.created)
    country = cust.countries()
    opt_in = np.concatenate(cust.opt_in)
    # Edits (a changed opt-in) of customers that existed at the start of the day.
    edit_days = np.concatenate([cust.hist_days, w.days])
    counts = rng.poisson(CUSTOMER_EDITS_PER_DAY * w.scale * SHOP_WEEKDAY[(edit_days + 3) % 7])
    day = np.repeat(edit_days, counts)
    hist_before = np.searchsorted(cust.created[0], cust.hist_days * DAY)
    pool = np.concatenate([hist_before, cust.before_period_day])[np.repeat(np.arange(len(edit_days)), counts)]
    ok = pool > 0
    who = np.floor(rng.random(ok.sum()) * pool[ok]).astype(np.int64)
    when = day[ok] * DAY + _times_of_day(rng, ok.sum(), SHOP_HOURS)
    ids = np.concatenate([np.arange(len(created)), who])
    w.deliver("customers", _Frame(
        data={"c": ids, "created": created[ids], "updated": np.concatenate([created, when]),
              "country": country[ids], "opt_in": np.concatenate([opt_in, rng.random(len(who)) < 0.5])},
        select={"customer_id": _customer("c"), "created_at": _ts("created"), "updated_at": _ts("updated"),
                "country": _pick(COUNTRIES, "country"), "marketing_opt_in": "opt_in"},
        days=(int(cust.hist_days[0]), w.last_day)))


# --- orders and fulfilment (storefront + logistics) ------------------------------------

def _fulfilment(w: _World) -> None:
    o = w.orders
    m = len(o["created"])
    country = w.customers.countries()[o["customer"]]
    cur, wh = COUNTRY_CURRENCY[country], COUNTRY_WAREHOUSE[country]
    created = o["created"]

    # Lines and amounts (integer cents; order discount = sum of line discounts).
    mask = np.arange(4)[None, :] < o["n_lines"][:, None]
    l_order = np.nonzero(mask)[0]
    l_sku, l_qty = o["skus"][mask], o["qty"][mask]
    nl = len(l_order)
    rng = w.rng("storefront", "orders")
    l_price = w.sku_price[cur[l_order], l_sku]
    gross = l_qty * l_price
    pct = np.where(rng.random(m) < 0.18, rng.choice([10, 15, 20], m), 0)
    l_disc = np.round(gross * pct[l_order] / 100).astype(np.int64)
    subtotal = np.bincount(l_order, gross, m).astype(np.int64)
    discount = np.bincount(l_order, l_disc, m).astype(np.int64)
    net = subtotal - discount
    tax = np.round(net * COUNTRY_TAX[country]).astype(np.int64)
    fee = np.where(net >= FREE_SHIPPING_CENTS[cur], 0, SHIPPING_FEE_CENTS[cur])
    total = net + tax + fee

    # Payment and cancellation.
    mkt = o["channel"] == _code(SALES_CHANNELS, "marketplace")
    delay = np.where(mkt, rng.integers(5, 60, m),
                     np.where(rng.random(m) < 0.90, rng.integers(5, 90, m), rng.integers(HOUR, 30 * HOUR, m)))
    never_paid = ~mkt & (rng.random(m) < 0.012)
    paid = np.where(never_paid, NULL, created + delay)
    paid[paid >= w.cutoff] = NULL
    cancel = np.where(never_paid & (created + 72 * HOUR < w.cutoff), created + 72 * HOUR, NULL)
    cancels = (paid >= 0) & (rng.random(m) < 0.02)
    cc = paid + rng.integers(10 * MINUTE, 6 * HOUR, m)
    cancel = np.where(cancels & (cc < w.cutoff), cc, cancel)

    # Shipments: one per paid order that was not cancelled.
    rng = w.rng("logistics", "shipments")
    handling = np.where(rng.random(m) < 0.975, rng.integers(HOUR, 30 * HOUR, m), rng.integers(50 * HOUR, 90 * HOUR, m))
    if w.faults.on("slow_fulfilment"):  # a warehouse backlog: orders paid in the last days leave 60-90 h later
        handling = np.where((paid >= 0) & w.faults.recent(paid), w.faults.rng("slow_fulfilment").integers(60 * HOUR, 90 * HOUR, m), handling)
    s_created_o = paid + handling
    has_ship = (paid >= 0) & ~cancels & (s_created_o < w.cutoff)
    so = np.flatnonzero(has_ship)
    so = so[np.argsort(s_created_o[so], kind="stable")]
    ns = len(so)
    ship_of_order = np.full(m, NULL)
    ship_of_order[so] = np.arange(ns)
    s_created = s_created_o[so]
    shipped = s_created + rng.integers(30 * MINUTE, 8 * HOUR, ns)
    us = wh[so] == 0
    c = {name: _code(CARRIERS, name) for name in CARRIERS}
    carrier = np.where(us, rng.choice([c["ups"], c["fedex"], c["usps"]], ns, p=[0.4, 0.3, 0.3]),
                       rng.choice([c["dhl"], c["ups"]], ns, p=[0.7, 0.3]))
    express = rng.random(ns) < 0.15
    ship_day = shipped // DAY
    promised = ship_day + np.where(express, 2, np.where(carrier == c["usps"], 6, 5))
    late = rng.random(ns) < 0.08
    lost = rng.random(ns) < 0.002
    deliv_day = np.where(late, promised + rng.integers(1, 4, ns),
                         ship_day + 1 + np.floor(rng.random(ns) * (promised - ship_day)).astype(np.int64))
    delivered = np.where(lost, NULL, deliv_day * DAY + rng.integers(9 * HOUR, 19 * HOUR, ns))
    in_transit = np.where(lost, shipped + rng.integers(4 * HOUR, 16 * HOUR, ns),
                          shipped + ((delivered - shipped) * rng.uniform(0.2, 0.5, ns)).astype(np.int64))
    lost_at = np.where(lost, shipped + 10 * DAY, NULL)
    weight_kg = np.round(np.bincount(l_order, l_qty * w.sku_weight_g[l_sku], m)[so] / 1000 + 0.25, 2)
    base = np.array([CARRIER_BASE_CENTS[name] for name in CARRIERS])[carrier]
    cost = np.round((base + 110 * weight_kg) * np.where(express, 1.9, 1.0) * PRICE_FACTOR[cur[so]]).astype(np.int64)
    tracking = rng.integers(0, 2**62, ns)

    # Shipment lines: the ordered SKU and quantity, except a few picking errors.
    l_ship = ship_of_order[l_order]
    sl = np.flatnonzero(l_ship >= 0)
    sl = sl[np.argsort(l_ship[sl], kind="stable")]
    u = rng.random(len(sl))
    short, wrong = u < 0.005, (u >= 0.005) & (u < 0.010)
    sl_qty = np.where(short, l_qty[sl] - 1, l_qty[sl])
    sl_sku = l_sku[sl].copy()
    sl_sku[wrong] = w.other_sku(rng, sl_sku[wrong])

    _deliver_shipments(w, so, s_created, shipped, in_transit, delivered, lost_at, promised, carrier, express,
                       cost, cur[so], weight_kg, tracking, wh[so])
    w.deliver("shipment_lines", _Frame(
        data={"id": np.arange(len(sl)), "ship": l_ship[sl], "line": sl, "sku": sl_sku, "qty": sl_qty,
              "created": s_created[l_ship[sl]]},
        select={"shipment_line_id": _id("SHL-", 9, "id"), "shipment_id": _id("SHP-", 8, "ship"),
                "order_line_id": _order_line("line"), "sku": _sku("sku"), "quantity_shipped": "qty",
                "created_at": _ts("created")},
        days=w.period()))

    # Returns (picking errors come back as wrong/missing item; others for the usual reasons).
    o_delivered = np.full(m, NULL)
    o_delivered[so] = np.where(delivered < w.cutoff, delivered, NULL)
    refunds = _returns(w, l_order, l_qty, l_price, l_disc, cur, o_delivered, sl, sl_sku, sl_qty, short, wrong, l_sku)

    # Orders: one row per change (placed, paid, cancelled, fulfilled, each refund).
    o_shipped = np.full(m, NULL)
    o_shipped[so] = np.where(shipped < w.cutoff, shipped, NULL)
    st = {s: _code(ORDER_STATUSES, s) for s in ORDER_STATUSES}
    r_order, r_time, r_cum = refunds
    v_order = np.concatenate([np.arange(m), np.flatnonzero(paid >= 0), np.flatnonzero(cancel >= 0),
                              np.flatnonzero(o_shipped >= 0), r_order])
    v_time = np.concatenate([created, paid[paid >= 0], cancel[cancel >= 0], o_shipped[o_shipped >= 0], r_time])
    kinds = [st["placed"], st["paid"], st["cancelled"], st["fulfilled"], st["refunded"]]
    sizes = [m, (paid >= 0).sum(), (cancel >= 0).sum(), (o_shipped >= 0).sum(), len(r_order)]
    v_status = np.repeat(kinds, sizes)
    refunded = v_status == st["refunded"]
    v_paid = np.where((paid[v_order] >= 0) & (paid[v_order] <= v_time), paid[v_order], NULL)
    w.deliver("orders", _Frame(
        data={"o": v_order, "cust": o["customer"][v_order], "sess": o["session"][v_order],
              "chan": o["channel"][v_order], "status": v_status, "cur": cur[v_order], "subtotal": subtotal[v_order],
              "discount": discount[v_order], "tax": tax[v_order], "fee": fee[v_order], "total": total[v_order],
              "refunded": np.where(refunded, np.concatenate([np.zeros(len(v_order) - len(r_cum), np.int64), r_cum]), 0),
              "created": created[v_order], "paid": v_paid,
              "cancelled": np.where(v_status == st["cancelled"], v_time, NULL),
              "refunded_at": np.where(refunded, v_time, NULL), "updated": v_time},
        select={"order_id": _order("o"), "customer_id": _customer("cust"), "session_id": _session("sess"),
                "sales_channel": _pick(SALES_CHANNELS, "chan"), "status": _pick(ORDER_STATUSES, "status"),
                "currency": _pick(CURRENCIES, "cur"), "subtotal_amount": _money("subtotal"),
                "discount_amount": _money("discount"), "tax_amount": _money("tax"), "shipping_amount": _money("fee"),
                "total_amount": _money("total"), "refunded_amount": _money("refunded"), "created_at": _ts("created"),
                "paid_at": _ts("paid"), "cancelled_at": _ts("cancelled"), "refunded_at": _ts("refunded_at"),
                "updated_at": _ts("updated")},
        days=w.period()))
    w.deliver("order_lines", _Frame(
        data={"id": np.arange(nl), "o": l_order, "sku": l_sku, "qty": l_qty, "price": l_price, "disc": l_disc,
              "created": created[l_order]},
        select={"order_line_id": _order_line("id"), "order_id": _order("o"), "sku": _sku("sku"), "quantity": "qty",
                "unit_price": _money("price"), "discount_amount": _money("disc"), "created_at": _ts("created")},
        days=w.period()))

    # For inventory: units leaving each warehouse, and units reserved by paid, unshipped orders.
    w.stock_moves = {
        "ship_day": shipped[l_ship[sl]] // DAY, "ship_ok": shipped[l_ship[sl]] < w.cutoff,
        "ship_wh": wh[l_order[sl]], "ship_sku": sl_sku, "ship_qty": sl_qty,
        "l_paid": paid[l_order], "l_release": np.where(o_shipped[l_order] >= 0, o_shipped[l_order], cancel[l_order]),
        "l_wh": wh[l_order], "l_sku": l_sku, "l_qty": l_qty,
    }


def _deliver_shipments(w, so, created, shipped, in_transit, delivered, lost_at, promised, carrier, express,
                       cost, cur, weight_kg, tracking, wh) -> None:
    ns = len(so)
    st = {s: _code(SHIPMENT_STATUSES, s) for s in SHIPMENT_STATUSES}
    steps = [(st["created"], created), (st["shipped"], shipped), (st["in_transit"], in_transit),
             (st["delivered"], delivered), (st["lost"], lost_at)]
    v_ship = np.concatenate([np.flatnonzero((t >= 0) & (t < w.cutoff)) for _, t in steps])
    v_status = np.concatenate([np.full(((t >= 0) & (t < w.cutoff)).sum(), s) for s, t in steps])
    v_time = np.concatenate([t[(t >= 0) & (t < w.cutoff)] for _, t in steps])
    w.deliver("shipments", _Frame(
        data={"s": v_ship, "o": so[v_ship], "wh": wh[v_ship], "carrier": carrier[v_ship], "express": express[v_ship].astype(np.int64),
              "trk": tracking[v_ship], "status": v_status, "created": created[v_ship],
              "shipped": np.where(v_status != st["created"], shipped[v_ship], NULL), "promised": promised[v_ship],
              "delivered": np.where(v_status == st["delivered"], delivered[v_ship], NULL), "cost": cost[v_ship],
              "cur": cur[v_ship], "kg": weight_kg[v_ship], "updated": v_time},
        select={"shipment_id": _id("SHP-", 8, "s"), "order_id": _order("o"), "warehouse_id": _pick(WAREHOUSES, "wh"),
                "carrier": _pick(CARRIERS, "carrier"), "service_level": _pick(SERVICE_LEVELS, "express"),
                "tracking_number": f"CASE WHEN trk < 0 THEN NULL WHEN carrier = {_code(CARRIERS, 'ups')} THEN '1Z' || upper(lpad(to_hex(trk), 16, '0')) "
                                   f"WHEN carrier = {_code(CARRIERS, 'dhl')} THEN lpad(CAST(trk % 10000000000 AS VARCHAR), 10, '0') "
                                   f"WHEN carrier = {_code(CARRIERS, 'fedex')} THEN lpad(CAST(trk % 1000000000000 AS VARCHAR), 12, '0') "
                                   f"ELSE '9400' || lpad(CAST(trk % 1000000000000000000 AS VARCHAR), 18, '0') END",
                "status": _pick(SHIPMENT_STATUSES, "status"), "created_at": _ts("created"), "shipped_at": _ts("shipped"),
                "promised_delivery_date": _date("promised"), "delivered_at": _ts("delivered"),
                "shipping_cost": _money("cost"), "currency": _pick(CURRENCIES, "cur"), "weight_kg": "kg",
                "updated_at": _ts("updated")},
        days=w.period()))
    assert ns == len(created)


def _returns(w, l_order, l_qty, l_price, l_disc, cur, o_delivered, sl, sl_sku, sl_qty, short, wrong, l_sku):
    """Write the returns export; return (order, refund time, cumulative refunded cents) per order refund."""
    rng = w.rng("logistics", "returns")
    reason = {r: _code(RETURN_REASONS, r) for r in RETURN_REASONS}
    delivered_l = o_delivered[l_order[sl]]
    # Picking errors: the customer sends the wrong item back / claims the missing one.
    err_wrong = wrong & (delivered_l >= 0) & (rng.random(len(sl)) < 0.75)
    err_short = short & (delivered_l >= 0) & (rng.random(len(sl)) < 0.70) & (sl_qty < l_qty[sl])
    e_line = np.concatenate([sl[err_wrong], sl[err_short]])
    e_sku = np.concatenate([sl_sku[err_wrong], l_sku[sl[err_short]]])
    e_qty = np.concatenate([sl_qty[err_wrong], (l_qty[sl] - sl_qty)[err_short]])
    e_reason = np.concatenate([np.full(err_wrong.sum(), reason["wrong_item"]), np.full(err_short.sum(), reason["missing_item"])])
    ok = e_qty > 0
    e_line, e_sku, e_qty, e_reason = e_line[ok], e_sku[ok], e_qty[ok], e_reason[ok]
    e_key = np.arange(len(e_line))  # each error return is on its own

    # Ordinary returns: ~6.5% of delivered orders, one or more lines, one reason per order.
    m = len(o_delivered)
    has_err = np.zeros(m, bool)
    has_err[l_order[e_line]] = True
    ret_o = (o_delivered >= 0) & ~has_err & (rng.random(m) < 0.065)
    sq = np.zeros(len(l_order), np.int64)  # shipped qty per order line (right SKU only)
    sq[sl] = np.where(sl_sku == l_sku[sl], sl_qty, 0)
    n_lines = np.bincount(l_order, minlength=m)
    first_line = np.cumsum(n_lines) - n_lines
    forced = first_line + np.floor(rng.random(m) * n_lines).astype(np.int64)
    pick = ret_o[l_order] & ((np.arange(len(l_order)) == forced[l_order]) | (rng.random(len(l_order)) < 0.25)) & (sq > 0)
    r_line = np.flatnonzero(pick)
    ordinary = [reason[r] for r in ("changed_mind", "not_as_described", "damaged", "other", "wrong_item", "missing_item")]
    o_reason = rng.choice(ordinary, m, p=[0.38, 0.20, 0.14, 0.14, 0.09, 0.05])
    r_qty = 1 + rng.binomial(np.maximum(sq[r_line] - 1, 0), 0.5)

    line = np.concatenate([e_line, r_line])
    sku = np.concatenate([e_sku, l_sku[r_line]])
    qty = np.concatenate([e_qty, r_qty])
    why = np.concatenate([e_reason, o_reason[l_order[r_line]]])
    key = np.concatenate([e_key, len(e_key) + l_order[r_line]])  # lines returned together share their times
    order = l_order[line]
    n = len(line)

    # Times: drawn per return parcel (key), so lines sent back together move together.
    u = rng.random((4, len(e_key) + m))
    fast = np.isin(why, [reason["damaged"], reason["wrong_item"], reason["missing_item"]])
    requested = o_delivered[order] + np.where(fast, 0.3 + 3.7 * u[0, key], 1 + 20 * u[0, key]) * DAY
    received = requested + np.where(why == reason["missing_item"], 0.3 + 1.2 * u[1, key], 2 + 6 * u[1, key]) * DAY
    refund_lag = np.where(u[2, key] < 0.975, 2 * HOUR + u[3, key] * 94 * HOUR, 5.2 * DAY + u[3, key] * 3.8 * DAY)
    requested, received = requested.astype(np.int64), received.astype(np.int64)
    refunded = (received + refund_lag).astype(np.int64)
    if w.faults.on("late_refunds"):  # finance short-staffed: refunds 7-10 days after the parcel arrived
        slow = w.faults.recent(received, days=15)
        refunded = np.where(slow, received + w.faults.rng("late_refunds").integers(7 * DAY, 10 * DAY, len(received)), refunded)
    amount = np.round(qty * l_price[line] - l_disc[line] * qty / l_qty[line]).astype(np.int64)

    live = requested < w.cutoff
    line, sku, qty, why, order, requested, received, refunded, amount = (
        a[live] for a in (line, sku, qty, why, order, requested, received, refunded, amount))
    received = np.where(received < w.cutoff, received, NULL)
    refunded = np.where((received >= 0) & (refunded < w.cutoff), refunded, NULL)
    rid = np.empty(len(line), np.int64)
    rid[np.lexsort((line, requested))] = np.arange(len(line))

    steps = [requested, received, refunded]
    v = np.concatenate([np.flatnonzero(t >= 0) for t in steps])
    stage = np.concatenate([np.full((t >= 0).sum(), i) for i, t in enumerate(steps)])
    v_time = np.concatenate([t[t >= 0] for t in steps])
    w.deliver("returns", _Frame(
        data={"r": rid[v], "o": order[v], "line": line[v], "sku": sku[v], "qty": qty[v], "why": why[v],
              "requested": requested[v], "received": np.where(stage >= 1, received[v], NULL),
              "amount": np.where(stage == 2, amount[v], NULL), "cur": cur[order[v]],
              "refunded": np.where(stage == 2, refunded[v], NULL), "updated": v_time},
        select={"return_id": _id("RMA-", 8, "r"), "order_id": _order("o"), "order_line_id": _order_line("line"),
                "sku": _sku("sku"), "quantity": "qty", "reason": _pick(RETURN_REASONS, "why"),
                "requested_at": _ts("requested"), "received_at": _ts("received"), "refund_amount": _money("amount"),
                "currency": _pick(CURRENCIES, "cur"), "refunded_at": _ts("refunded"), "updated_at": _ts("updated")},
        days=w.period()))

    # Refunds per order and time, cumulative per order (for the orders export).
    done = refunded >= 0
    r_o, r_t, r_a = order[done], refunded[done], amount[done]
    s = np.lexsort((r_t, r_o))
    r_o, r_t, r_a = r_o[s], r_t[s], r_a[s]
    cum = np.cumsum(r_a)
    start = np.searchsorted(r_o, r_o)  # first refund of the same order
    cum = cum - np.concatenate([[0], cum])[start]
    last = _keep_last((r_o, r_t))
    return r_o[last], r_t[last], cum[last]


# --- logistics: inventory --------------------------------------------------------------

def _inventory(w: _World) -> None:
    rng = w.rng("logistics", "inventory")
    mv = w.stock_moves
    act = w.active_idx
    na, D = len(act), w.n_days
    pos = w.active_pos

    def add(grid, day, whs, skus, qty, sign=1):
        ok = (day >= 0) & (day < D) & (pos[skus] >= 0)
        np.add.at(grid, (day[ok], whs[ok], pos[skus[ok]]), sign * qty[ok])

    shipped = np.zeros((D, 2, na), np.int64)
    add(shipped, np.where(mv["ship_ok"], mv["ship_day"] - w.day0, -1), mv["ship_wh"], mv["ship_sku"], mv["ship_qty"])
    reserve = np.zeros((D, 2, na), np.int64)
    paid = mv["l_paid"] >= 0
    add(reserve, np.where(paid, mv["l_paid"] // DAY - w.day0, -1), mv["l_wh"], mv["l_sku"], mv["l_qty"])
    released = paid & (mv["l_release"] >= 0)
    add(reserve, np.where(released, mv["l_release"] // DAY - w.day0, -1), mv["l_wh"], mv["l_sku"], mv["l_qty"], -1)
    reserved_eod = np.cumsum(reserve, axis=0)

    rop = np.broadcast_to(w.sku_rop[act], (2, na))
    demand = w.sku_units[act][None, :] * WAREHOUSE_SHARE[:, None]
    up_to = rop + np.ceil(demand * ORDER_UP_TO_DAYS).astype(np.int64) + 5
    on_hand = rop + np.ceil((up_to - rop) * rng.uniform(0.3, 1.0, (2, na))).astype(np.int64)
    inbound = np.zeros((2, na), np.int64)
    arrival = np.full((2, na), NULL)
    out = np.zeros((3, D, 2, na), np.int64)
    for d in range(D):  # a day at a time, vectorised over warehouse x SKU
        arrived = arrival == d
        on_hand += np.where(arrived, inbound, 0)
        inbound[arrived], arrival[arrived] = 0, NULL
        on_hand = np.maximum(on_hand - shipped[d], 0)
        reserved = np.minimum(np.maximum(reserved_eod[d], 0), on_hand)
        order = (on_hand - reserved <= rop) & (arrival < 0)
        inbound = np.where(order, up_to - (on_hand - reserved), inbound)
        arrival = np.where(order, d + rng.integers(4, 11, (2, na)), arrival)
        out[:, d] = on_hand, reserved, inbound
    grid_d, grid_w, grid_s = np.meshgrid(w.days, np.arange(2), act, indexing="ij")
    w.deliver("inventory_snapshots", _Frame(
        data={"day": grid_d.ravel(), "wh": grid_w.ravel(), "sku": grid_s.ravel(),
              "on_hand": out[0].ravel(), "reserved": out[1].ravel(), "inbound": out[2].ravel()},
        select={"snapshot_date": _date("day"), "warehouse_id": _pick(WAREHOUSES, "wh"), "sku": _sku("sku"),
                "on_hand": "on_hand", "reserved": "reserved", "inbound_on_order": "inbound"},
        days=w.period()))


# --- helpdesk --------------------------------------------------------------------------

def _helpdesk(w: _World) -> None:
    rng = w.rng("helpdesk", "tickets")
    ch_ = {c: _code(CHANNELS, c) for c in CHANNELS}
    counts = rng.poisson(TICKETS_PER_DAY * w.scale * SUPPORT_WEEKDAY[w.weekday] * rng.lognormal(0, 0.08, w.n_days))
    day = np.repeat(w.days, counts)
    c0 = np.sort(day * DAY + _times_of_day(rng, len(day), SUPPORT_HOURS))
    day = c0 // DAY
    n = len(c0)
    ch = rng.choice(len(CHANNELS), n, p=[{"email": 0.45, "phone": 0.17, "chat": 0.28, "social": 0.10}[c] for c in CHANNELS])
    pr = rng.choice(len(PRIORITIES), n, p=[{"low": 0.20, "normal": 0.58, "high": 0.17, "urgent": 0.05}[p] for p in PRIORITIES])
    fast = np.isin(pr, [_code(PRIORITIES, "high"), _code(PRIORITIES, "urgent")])
    written = (ch == ch_["email"]) | (ch == ch_["social"])
    spam = written & (rng.random(n) < 0.02)
    forgotten = ~spam & (rng.random(n) < 0.002)
    handled = ~spam & ~forgotten
    n_agents = max(5, round(6 * w.scale ** 0.75))
    n_tier2 = max(2, n_agents // 4)
    agent = rng.integers(0, n_agents, n)

    # Order tickets: an order of the last three weeks; requester = its customer.
    o_created, o_customer = w.orders["created"], w.orders["customer"]
    by_time = np.argsort(o_created, kind="stable")
    oc = o_created[by_time]
    lo, hi = np.searchsorted(oc, c0 - 21 * DAY), np.searchsorted(oc, c0 - 2 * HOUR)
    about_order = ~spam & (rng.random(n) < 0.6) & (hi > lo)
    order = np.where(about_order, by_time[np.minimum(lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64), len(oc) - 1)], NULL)
    pool = w.customers.before_period_day[day - w.day0]
    requester = np.where(about_order, o_customer[np.maximum(order, 0)],
                         np.where(pool > 0, np.floor(rng.random(n) * pool).astype(np.int64), NULL))
    requester[spam] = NULL
    k_order = len(ORDER_CATEGORIES)
    category = np.where(about_order, rng.choice(k_order, n, p=ORDER_CATEGORY_P),
                        k_order + rng.choice(len(GENERAL_CATEGORIES), n, p=GENERAL_CATEGORY_P))
    category[spam] = TICKET_CATEGORIES.index("spam")

    def respond(factor=1.0):
        """Agent response delay by channel (seconds): ~98% within the channel SLA."""
        v = np.select([ch == ch_["email"], ch == ch_["social"], ch == ch_["chat"]],
                      [rng.lognormal(np.log(3.5 * HOUR), 0.9, n), rng.lognormal(np.log(40 * MINUTE), 0.8, n),
                       15 + rng.exponential(140.0, n)], rng.uniform(10, 150, n))
        return (v * np.where(written, factor, 1.0)).astype(np.int64)

    def customer_reply():
        return np.select([ch == ch_["email"], ch == ch_["social"]],
                         [rng.lognormal(np.log(5 * HOUR), 0.8, n), rng.lognormal(np.log(HOUR), 0.8, n)],
                         rng.uniform(30, 300, n)).astype(np.int64)

    def solve_delay():
        return np.where(written, rng.lognormal(np.log(1.5 * HOUR), 0.8, n), rng.uniform(60, 600, n)).astype(np.int64)

    a1 = c0 + respond(np.where(fast, 0.5, 1.0))
    if w.faults.on("late_first_responses"):  # the e-mail queue unstaffed: first replies 26-40 h late
        late = handled & (ch == ch_["email"]) & w.faults.recent(c0)
        a1 = np.where(late, c0 + w.faults.rng("late_first_responses").integers(26 * HOUR, 40 * HOUR, n), a1)
    live = (ch == ch_["chat"]) | (ch == ch_["phone"])
    n_extra = np.where(live, rng.choice(3, n, p=[0.80, 0.15, 0.05]), rng.choice(3, n, p=[0.60, 0.28, 0.12]))
    c1 = a1 + customer_reply()
    a2 = c1 + respond()
    c2 = a2 + customer_reply()
    a3 = c2 + respond()
    last_reply = np.select([n_extra == 0, n_extra == 1], [a1, a2], a3)
    s1 = np.where(spam, c0 + rng.integers(10 * MINUTE, 8 * HOUR, n), last_reply + solve_delay())
    missed = np.zeros(n, bool)
    if w.faults.on("escalation_missed"):  # tier 2 away: urgent tickets solved late by tier 1, never escalated
        missed = handled & fast & w.faults.recent(c0)
        late_solve = c0 + w.faults.rng("escalation_missed").integers(28 * HOUR, 44 * HOUR, n)
        s1 = np.where(missed, np.maximum(late_solve, last_reply + HOUR), s1)
    reopen = handled & (rng.random(n) < 0.05)
    r = s1 + rng.integers(2 * HOUR, 72 * HOUR, n)
    r_reply = r + 1 + respond()
    s2 = r_reply + solve_delay()
    final = np.where(reopen, s2, s1)
    esc = handled & ((fast & (final - c0 > 24 * HOUR)) | (rng.random(n) < 0.012)) & ~missed
    e_t = c0 + 60 + (rng.uniform(0.15, 0.85, n) * (np.minimum(s1 - c0, 23 * HOUR) - 120)).astype(np.int64)
    t2 = e_t + np.maximum(1, ((s1 - e_t) * rng.uniform(0.3, 0.8, n)).astype(np.int64))
    tier = rng.choice(2, n, p=[0.85, 0.15])
    t2_agent = rng.integers(0, n_tier2, n)
    note = handled & (rng.random(n) < 0.2)
    note_t = a1 + ((s1 - a1) * rng.uniform(0.1, 0.9, n)).astype(np.int64)

    # Interactions, one block per kind of event.
    role = {x: _code(AUTHOR_ROLES, x) for x in AUTHOR_ROLES}
    kind = {x: _code(INTERACTION_TYPES, x) for x in INTERACTION_TYPES}
    CUST, AGENT, TIER2 = 0, 1, 2  # author id kinds

    def by_assignee(t):
        moved = esc & (t > e_t)
        return np.where(moved, TIER2, AGENT), np.where(moved, t2_agent, agent)

    blocks = []

    def emit(mask, t, who, typ, public, seq):
        idx = np.flatnonzero(mask)
        if who == "customer":
            ak, ai, rl = np.full(n, CUST), requester, role["customer"]
        elif who == "system":
            ak, ai, rl = np.full(n, NULL), np.full(n, NULL), role["system"]
        else:
            ak, ai = by_assignee(t) if who == "assignee" else (np.full(n, AGENT), agent)
            rl = role["agent"]
        ak = np.where((ak == CUST) & (ai < 0), NULL, ak)
        blocks.append({"ticket": idx, "t": t[idx], "role": np.full(len(idx), rl), "ak": ak[idx], "ai": ai[idx],
                       "public": np.full(len(idx), public), "type": np.full(len(idx), typ),
                       "tier": np.where(typ == kind["escalated"], tier[idx], NULL),
                       "assignee": np.where(typ == kind["escalated"], t2_agent[idx], NULL), "seq": np.full(len(idx), seq)})

    emit(np.ones(n, bool), c0, "customer", kind["message"], True, 0)
    emit(handled, a1, "assignee", kind["message"], True, 1)
    emit(handled & (n_extra >= 1), c1, "customer", kind["message"], True, 2)
    emit(handled & (n_extra >= 1), a2, "assignee", kind["message"], True, 3)
    emit(handled & (n_extra >= 2), c2, "customer", kind["message"], True, 4)
    emit(handled & (n_extra >= 2), a3, "assignee", kind["message"], True, 5)
    emit(note, note_t, "assignee", kind["internal_note"], False, 6)
    emit(esc, e_t, "agent", kind["escalated"], False, 7)
    emit(esc, t2, "assignee", kind["message"], True, 8)
    emit(~forgotten, s1, "assignee", kind["solved"], False, 9)
    emit(reopen, r, "customer", kind["message"], True, 10)
    emit(reopen, r + 1, "system", kind["reopened"], False, 11)
    emit(reopen, r_reply, "assignee", kind["message"], True, 12)
    emit(reopen, s2, "assignee", kind["solved"], False, 13)
    it = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    it = {k: v[it["t"] < w.cutoff] for k, v in it.items()}
    it_order = np.lexsort((it["seq"], it["ticket"], it["t"]))
    it = {k: v[it_order] for k, v in it.items()}
    it["id"] = np.arange(len(it["t"]))
    it["ch"] = ch[it["ticket"]]
    author = (f"CASE ak WHEN {CUST} THEN {_customer('ai')} WHEN {AGENT} THEN {_id('AGT-', 3, 'ai')} "
              f"WHEN {TIER2} THEN {_id('AGT-T2-', 2, 'ai')} END")
    w.deliver("ticket_interactions", _Frame(
        data={k: it[k] for k in ("id", "ticket", "t", "role", "ak", "ai", "ch", "public", "type", "tier", "assignee")},
        select={"interaction_id": _id("TIA-", 10, "id"), "ticket_id": _id("TKT-", 8, "ticket"), "created_at": _ts("t"),
                "author_role": _pick(AUTHOR_ROLES, "role"), "author_id": author, "channel": _pick(CHANNELS, "ch"),
                "is_public": "public", "event_type": _pick(INTERACTION_TYPES, "type"),
                "escalation_tier": _pick(ESCALATION_TIERS, "tier"), "assignee_id": _id("AGT-T2-", 2, "assignee")},
        days=w.period()))

    # Ticket versions: one per status change.
    ts = {s: _code(TICKET_STATUSES, s) for s in TICKET_STATUSES}
    closed_t = final + 4 * DAY
    versions = [  # (mask, time, status, solved_at)
        (np.ones(n, bool), c0, ts["new"], NULL),
        (handled, a1, np.where(n_extra >= 1, ts["pending"], ts["open"]), NULL),
        (handled & (n_extra >= 1), c1, ts["open"], NULL),
        (handled & (n_extra >= 1), a2, np.where(n_extra >= 2, ts["pending"], ts["open"]), NULL),
        (handled & (n_extra >= 2), c2, ts["open"], NULL),
        (handled & (n_extra >= 2), a3, ts["open"], NULL),
        (esc, e_t, ts["open"], NULL),
        (~forgotten, s1, ts["solved"], s1),
        (reopen, r, ts["open"], NULL),
        (reopen, s2, ts["solved"], s2),
        (~forgotten, closed_t, ts["closed"], final),
    ]
    tk, tt, tst, tsv, tseq = [], [], [], [], []
    for seq, (mask, t, status, solved) in enumerate(versions):
        idx = np.flatnonzero(mask)
        tk.append(idx)
        tt.append(t[idx])
        tst.append(np.broadcast_to(status, (n,))[idx])
        tsv.append(np.broadcast_to(solved, (n,))[idx])
        tseq.append(np.full(len(idx), seq))
    tk, tt, tst, tsv, tseq = (np.concatenate(x) for x in (tk, tt, tst, tsv, tseq))
    ok = tt < w.cutoff
    tk, tt, tst, tsv, tseq = tk[ok], tt[ok], tst[ok], tsv[ok], tseq[ok]
    s = np.lexsort((tseq, tt, tk))
    tk, tt, tst, tsv, tseq = tk[s], tt[s], tst[s], tsv[s], tseq[s]
    last = _keep_last((tk, tt))  # two changes in the same second: the later state wins
    tk, tt, tst, tsv, tseq = tk[last], tt[last], tst[last], tsv[last], tseq[last]
    moved = esc[tk] & (tt >= e_t[tk])
    w.deliver("tickets", _Frame(
        data={"ticket": tk, "created": c0[tk], "updated": tt, "ch": ch[tk], "pr": pr[tk], "status": tst,
              "cat": np.where(tseq == 0, NULL, category[tk]), "req": requester[tk], "o": order[tk],
              "ak": np.where(tseq == 0, NULL, np.where(moved, TIER2, AGENT)),
              "ai": np.where(moved, t2_agent[tk], agent[tk]), "solved": tsv},
        select={"ticket_id": _id("TKT-", 8, "ticket"), "created_at": _ts("created"), "updated_at": _ts("updated"),
                "channel": _pick(CHANNELS, "ch"), "priority": _pick(PRIORITIES, "pr"),
                "status": _pick(TICKET_STATUSES, "status"), "category": _pick(TICKET_CATEGORIES, "cat"),
                "requester_id": _customer("req"), "order_id": _order("o"), "assignee_id": author,
                "solved_at": _ts("solved")},
        days=w.period()))

    # CSAT: a survey after the final solve of every handled ticket; ~40% answer.
    rng = w.rng("helpdesk", "csat")
    sent = final + rng.integers(10 * MINUTE, 2 * HOUR, n)
    surveyed = np.flatnonzero(handled & (sent < w.cutoff))
    sent = sent[surveyed]
    k = len(surveyed)
    answered_at = sent + rng.lognormal(np.log(3 * HOUR), 1.0, k).astype(np.int64)
    answered = (rng.random(k) < 0.4) & (answered_at < w.cutoff)
    sla = np.array([SLA_SECONDS[c] for c in CHANNELS])
    unhappy = ((a1 - c0) > sla[ch])[surveyed] | reopen[surveyed] | esc[surveyed]
    score = np.where(unhappy, rng.choice([1, 2, 3, 4, 5], k, p=[0.15, 0.15, 0.25, 0.25, 0.20]),
                     rng.choice([1, 2, 3, 4, 5], k, p=[0.04, 0.04, 0.10, 0.27, 0.55]))
    o = np.argsort(sent, kind="stable")
    w.deliver("csat_responses", _Frame(
        data={"id": np.arange(k), "ticket": surveyed[o], "sent": sent[o],
              "responded": np.where(answered, answered_at, NULL)[o], "score": np.where(answered, score, NULL)[o]},
        select={"response_id": _id("CSAT-", 8, "id"), "ticket_id": _id("TKT-", 8, "ticket"), "sent_at": _ts("sent"),
                "responded_at": _ts("responded"), "score": _int("score")},
        days=w.period()))


# --- MES -------------------------------------------------------------------------------

def _mes(w: _World) -> None:
    rng = w.rng("mes", "production")
    n_lines = 3 * max(1, round(math.sqrt(w.scale)))
    # Shifts: Mon-Fri A/B/C, Saturday A/B, Sunday idle.
    per_day = np.where(w.weekday < 5, 3, np.where(w.weekday == 5, 2, 0))
    s_day_i, s_shift = _split_counts(per_day)
    s_day_i = np.repeat(s_day_i, n_lines)
    s_shift = np.repeat(s_shift, n_lines)
    s_line = np.tile(np.arange(n_lines), len(s_shift) // n_lines if n_lines else 0)
    s_day = w.days[s_day_i]
    shift_start = s_day * DAY + np.array([SHIFT_START[s] for s in SHIFTS])[s_shift]
    ns = len(s_day)

    # Pre-shift equipment checks (the odd failed check is redone and passed before the start).
    checked = shift_start - rng.integers(15 * MINUTE, 40 * MINUTE, ns)
    failed = rng.random(ns) < 0.01
    recheck = checked + rng.integers(5 * MINUTE, 10 * MINUTE, ns)
    ck_shift = np.concatenate([np.arange(ns), np.flatnonzero(failed)])
    ck_time = np.concatenate([checked, recheck[failed]])
    ck_result = np.concatenate([np.where(failed, _code(PASS_FAIL, "fail"), _code(PASS_FAIL, "pass")),
                                np.full(failed.sum(), _code(PASS_FAIL, "pass"))])
    o = np.lexsort((s_line[ck_shift], ck_time))
    ck_shift, ck_time, ck_result = ck_shift[o], ck_time[o], ck_result[o]
    operator = rng.integers(0, 3 * n_lines, ns)
    w.deliver("equipment_checks", _Frame(
        data={"id": np.arange(len(ck_shift)), "line": s_line[ck_shift], "shift": s_shift[ck_shift],
              "day": s_day[ck_shift], "t": ck_time, "op": operator[ck_shift], "result": ck_result},
        select={"check_id": _id("EC-", 7, "id"), "line_id": _id("LINE-", 2, "line"), "shift": _pick(SHIFTS, "shift"),
                "check_date": _date("day"), "checked_at": _ts("t"), "operator_id": _id("OP-", 3, "op"),
                "result": _pick(PASS_FAIL, "result")},
        days=w.period()))

    # Runs: one or two per line and shift, split away from the meal break.
    two = rng.random(ns) < 0.45
    split = shift_start + np.where(rng.random(ns) < 0.5, rng.integers(150, 211, ns), rng.integers(285, 331, ns)) * MINUTE
    split = split // (5 * MINUTE) * (5 * MINUTE)
    r_shift = np.concatenate([np.arange(ns), np.flatnonzero(two)])
    r_second = np.concatenate([np.zeros(ns, bool), np.ones(two.sum(), bool)])
    ss, se = shift_start[r_shift], shift_start[r_shift] + SHIFT_LENGTH
    ws = np.where(r_second, split[r_shift], ss)
    we = np.where(~r_second & two[r_shift], split[r_shift], se)
    live = we < w.cutoff  # a run still going at export time is not reported yet
    r_shift, r_second, ws, we = r_shift[live], r_second[live], ws[live], we[live]
    o = np.lexsort((s_line[r_shift], ws))
    r_shift, r_second, ws, we = r_shift[o], r_second[o], ws[o], we[o]
    if w.faults.on("overlapping_runs"):  # a run closed 45 min late in the MES, into the next run on its line
        first_of_two = np.flatnonzero(~r_second & two[r_shift] & w.faults.recent(ws) & (we + 45 * MINUTE < w.cutoff))
        if len(first_of_two):
            we[first_of_two[-1]] += 45 * MINUTE
            w.faults.applied.add("overlapping_runs")
    nr = len(r_shift)
    line = s_line[r_shift]
    break_start = shift_start[r_shift] + BREAK_OFFSET
    has_break = (ws <= break_start) & (break_start + BREAK_LENGTH <= we)
    setup = rng.integers(10, 26, nr) * MINUTE
    planned = setup + has_break * BREAK_LENGTH
    productive = (we - ws) - planned

    # Product per run from the line's categories; ideal cycle per product and line.
    act = w.active_idx
    weights = np.diff(np.concatenate([[0.0], w.sku_cdf]))[act]
    line_cats = np.stack([np.arange(n_lines) % 6, (np.arange(n_lines) + 2) % 6], axis=1)
    allowed = (w.sku_category[act][None, :] == line_cats[:, :1]) | (w.sku_category[act][None, :] == line_cats[:, 1:])
    allowed[~allowed.any(axis=1)] = True
    lw = weights[None, :] * allowed + 1e-12 * allowed
    cdf = np.cumsum(lw, axis=1)
    cdf /= cdf[:, -1:]
    flat = (cdf + np.arange(n_lines)[:, None]).ravel()
    pick = np.searchsorted(flat, line + rng.random(nr) * 0.999999, side="right") - line * len(act)
    sku = act[np.clip(pick, 0, len(act) - 1)]
    base_cycle = w.rng("mes", "cycle").uniform(20, 75, w.n_sku)
    line_factor = w.rng("mes", "lines").uniform(0.9, 1.15, n_lines)
    ideal = np.round(base_cycle[sku] * line_factor[line], 1)

    # Unplanned stops: placed on the productive timeline (no overlaps, never across the break).
    k = np.minimum(rng.poisson(1.2, nr), 4)
    long = rng.random(nr) < 0.03
    k[long] = 1
    ev_run, ev_k = _split_counts(k)
    seg = productive[ev_run] / k[ev_run]
    p = (ev_k * seg + rng.uniform(0, 0.35, len(ev_run)) * seg).astype(np.int64)
    short_d = 240 + rng.random(len(ev_run)) * np.maximum(0, np.minimum(1500, 0.3 * seg) - 240)
    d = np.where(long[ev_run], rng.uniform(0.15, 0.30, len(ev_run)) * productive[ev_run], short_d).astype(np.int64)
    pb = break_start[ev_run] - (ws[ev_run] + setup[ev_run])
    hb = has_break[ev_run]
    p = np.where(hb & (p < pb) & (p + d > pb), pb, p)
    ev_start = ws[ev_run] + setup[ev_run] + p + np.where(hb & (p >= pb), BREAK_LENGTH, 0)
    ev_end = ev_start + d
    reasons = {r: DOWNTIME_REASONS.index(r) for r in DOWNTIME_REASONS}
    small = [reasons[r] for r in ("jam", "material_shortage", "sensor_fault", "tool_wear", "quality_hold", "minor_stop")]
    ev_reason = np.where(long[ev_run], reasons["breakdown"], rng.choice(small, len(ev_run), p=[0.3, 0.15, 0.15, 0.1, 0.1, 0.2]))
    unplanned = np.bincount(ev_run, d, nr)

    run_time = productive - unplanned
    perf = rng.uniform(0.72, 0.97, nr)
    total = np.floor(perf * run_time / ideal).astype(np.int64)
    quality = rng.uniform(0.955, 0.995, nr)
    good = np.floor(total * quality).astype(np.int64)
    scrap = np.round((total - good) * rng.uniform(0.3, 0.7, nr)).astype(np.int64)

    # QC inspections: one per run, two on long runs; a failed one is followed by scrap or rework.
    n_insp = 1 + ((we - ws) >= 4 * HOUR)
    q_run, q_i = _split_counts(n_insp)
    q_t = ws[q_run] + ((we - ws)[q_run] * (q_i + rng.uniform(0.1, 0.9, len(q_run))) / n_insp[q_run]).astype(np.int64)
    size_i = rng.integers(0, len(QC_SAMPLES), len(q_run))
    defects = rng.binomial(QC_SAMPLES[size_i], 1 - quality[q_run])
    fail = defects > QC_ACCEPT[size_i]
    fu = {f: _code(QC_FOLLOW_UPS, f) for f in QC_FOLLOW_UPS}
    follow = np.where(fail, np.where(rng.random(len(q_run)) < 0.5, fu["scrap"], fu["rework"]), fu["none"])
    need_scrap = np.bincount(q_run[follow == fu["scrap"]], minlength=nr) > 0
    need_rework = np.bincount(q_run[follow == fu["rework"]], minlength=nr) > 0
    add_s = need_scrap & (scrap == 0) & (good > 0)
    scrap += add_s
    good -= add_s
    rework = total - good - scrap
    add_r = need_rework & (rework == 0) & (good > 0)
    good -= add_r
    rework += add_r

    period = w.period()
    w.deliver("production_runs", _Frame(
        data={"id": np.arange(nr), "plant": line // 3, "line": line, "sku": sku, "shift": s_shift[r_shift],
              "start": ws, "stop": we, "planned": planned / 60.0, "ideal": ideal, "total": total, "good": good,
              "scrap": scrap, "rework": rework},
        select={"run_id": _id("RUN-", 7, "id"), "plant_id": _id("PLANT-", 2, "plant"), "line_id": _id("LINE-", 2, "line"),
                "sku": _sku("sku"), "shift": _pick(SHIFTS, "shift"), "scheduled_start": _ts("start"),
                "scheduled_end": _ts("stop"), "planned_downtime_minutes": "planned", "ideal_cycle_seconds": "ideal",
                "total_count": "total", "good_count": "good", "scrap_count": "scrap", "rework_count": "rework"},
        days=period))

    # Downtime events: planned setup/changeover and meal break, then the unplanned stops.
    br = np.flatnonzero(has_break)
    dt_run = np.concatenate([np.arange(nr), br, ev_run])
    dt_start = np.concatenate([ws, break_start[br], ev_start])
    dt_end = np.concatenate([ws + setup, break_start[br] + BREAK_LENGTH, ev_end])
    dt_planned = np.concatenate([np.ones(nr + len(br), bool), np.zeros(len(ev_run), bool)])
    dt_reason = np.concatenate([np.where(r_second, reasons["changeover"], reasons["setup"]),
                                np.full(len(br), reasons["break"]), ev_reason])
    o = np.lexsort((dt_run, dt_start))
    w.deliver("downtime_events", _Frame(
        data={"id": np.arange(len(o)), "run": dt_run[o], "line": line[dt_run[o]], "start": dt_start[o], "stop": dt_end[o],
              "planned": dt_planned[o], "reason": dt_reason[o]},
        select={"downtime_id": _id("DT-", 8, "id"), "run_id": _id("RUN-", 7, "run"), "line_id": _id("LINE-", 2, "line"),
                "started_at": _ts("start"), "ended_at": _ts("stop"), "is_planned": "planned",
                "reason_code": _pick(DOWNTIME_REASONS, "reason")},
        days=period))
    o = np.lexsort((q_run, q_t))
    w.deliver("qc_inspections", _Frame(
        data={"id": np.arange(len(o)), "run": q_run[o], "t": q_t[o], "inspector": rng.integers(0, 2 + n_lines // 3, len(o)),
              "sample": QC_SAMPLES[size_i][o], "defects": defects[o],
              "result": np.where(fail, _code(PASS_FAIL, "fail"), _code(PASS_FAIL, "pass"))[o], "follow": follow[o]},
        select={"inspection_id": _id("QC-", 8, "id"), "run_id": _id("RUN-", 7, "run"), "inspected_at": _ts("t"),
                "inspector_id": _id("QI-", 2, "inspector"), "sample_size": "sample", "defects_found": "defects",
                "result": _pick(PASS_FAIL, "result"), "follow_up": _pick(QC_FOLLOW_UPS, "follow")},
        days=period))


# --- faults (kpi demo-data --faults) -----------------------------------------------------
# What each fault is and which SOP gate catches it: pipelines/exports/demo_faults.py, docs/faults.md.
# Behaviour faults change the simulation where later times derive from them (first replies,
# solves, run windows, handling and refund lags: in the functions above, each behind
# `w.faults.on(...)`, drawing from its own random stream so nothing else moves); record faults
# change a frame on its way to the writer (`_Faults.apply`); file faults damage written files.

def _rows(data: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[keep] for k, v in data.items()}


def _with_row(data: dict[str, np.ndarray], i: int, **changes) -> dict[str, np.ndarray]:
    """The frame plus a copy of row i with some values changed."""
    return {k: np.append(v, changes.get(k, v[i])) for k, v in data.items()}


class _Faults:
    def __init__(self, names: frozenset[str], w: "_World"):
        self.names, self.w = frozenset(names), w
        self.applied: set[str] = set()
        self.seen: dict[str, dict[str, np.ndarray]] = {}

    def on(self, name: str) -> bool:
        return name in self.names

    def rng(self, name: str) -> np.random.Generator:
        return self.w.rng("faults", name)

    def since(self, days: int = FAULT_DAYS) -> int:
        return (self.w.last_day - days + 1) * DAY

    def recent(self, t: np.ndarray, days: int = FAULT_DAYS) -> np.ndarray:
        """Epoch seconds in the last `days` days of the period (NULL never is)."""
        return (t >= self.since(days)) & (t < self.w.cutoff)

    def apply(self, export: str, frame: _Frame) -> _Frame:
        hook = getattr(self, f"_{export}", None)
        if not self.names or hook is None:
            return frame
        data = {k: np.array(v, copy=True) for k, v in frame.data.items()}
        data = hook(data)
        self.seen[export] = data
        return _Frame(data, frame.select, frame.days)

    def _hit(self, name: str, found) -> bool:
        ok = self.on(name) and bool(np.size(found))
        if ok:
            self.applied.add(name)
        return ok

    # behaviour faults report themselves when they changed something
    def note_behaviour(self) -> None:
        for name in ("late_first_responses", "escalation_missed", "slow_fulfilment", "late_refunds"):
            if self.on(name):
                self.applied.add(name)

    # -- helpdesk
    def _tickets(self, d):
        if self.on("ticket_solved_before_created"):
            latest = np.flatnonzero((d["solved"] >= 0) & self.recent(d["updated"]))
            if self._hit("ticket_solved_before_created", latest):
                tk = d["ticket"][latest[-1]]
                mine = d["ticket"] == tk  # every version of the ticket carries the wrong solve time
                d["solved"] = np.where(mine & (d["solved"] >= 0), d["created"] - 3 * HOUR, d["solved"])
        if self.on("solved_without_category"):
            spam = TICKET_CATEGORIES.index("spam")
            tickets = np.unique(d["ticket"][self.recent(d["created"]) & (d["cat"] != spam)])
            pick = tickets[self.rng("solved_without_category").random(len(tickets)) < 0.25]
            if self._hit("solved_without_category", pick):
                d["cat"] = np.where(np.isin(d["ticket"], pick), NULL, d["cat"])
        return d

    def _ticket_interactions(self, d):
        escalated = d["type"] == _code(INTERACTION_TYPES, "escalated")
        if self.on("escalation_without_tier"):
            hit = escalated & self.recent(d["t"])
            if not hit.any() and escalated.any():
                hit = np.arange(len(hit)) == np.flatnonzero(escalated)[-1]
            if self._hit("escalation_without_tier", np.flatnonzero(hit)):
                d["tier"] = np.where(hit, NULL, d["tier"])
                d["assignee"] = np.where(hit, NULL, d["assignee"])
        if self.on("escalated_before_created"):
            opened = {}
            for tk, t in zip(d["ticket"], d["t"]):  # the ticket's opening message is its first event
                opened[tk] = min(t, opened.get(tk, t))
            rows = [i for i in np.flatnonzero(escalated) if opened[d["ticket"][i]] - 2 * HOUR >= self.w.day0 * DAY]
            if self._hit("escalated_before_created", rows):
                i = rows[-1]
                d["t"][i] = opened[d["ticket"][i]] - 2 * HOUR
        return d

    # -- MES
    def _equipment_checks(self, d):
        drop = (d["line"] == 0) & (d["day"] > self.w.last_day - 3)
        if self._hit("run_without_equipment_check", np.flatnonzero(drop)):
            d = _rows(d, ~drop)
        return d

    def _production_runs(self, d):
        self.run_line, self.run_start, self.run_stop = d["line"].copy(), d["start"].copy(), d["stop"].copy()  # index = run id
        rows = np.flatnonzero(self.recent(d["start"]))
        if self._hit("counts_contradict", rows):
            i = rows[-1]
            d["total"][i] = d["good"][i] + d["scrap"][i] - 7
            d["rework"][i] = d["total"][i] - d["good"][i] - d["scrap"][i]
        return d

    def _downtime_events(self, d):
        if self.on("downtime_outside_run"):
            rows = np.flatnonzero(~d["planned"] & self.recent(d["start"]) & (self.run_stop[d["run"]] + 40 * MINUTE < self.w.cutoff))
            if self._hit("downtime_outside_run", rows):
                i = rows[-1]
                d["stop"][i] = self.run_stop[d["run"][i]] + 40 * MINUTE
        hit = ~d["planned"] & self.recent(d["start"]) & (self.rng("downtime_without_reason").random(len(d["start"])) < 1 / 3)
        if self._hit("downtime_without_reason", np.flatnonzero(hit)):
            d["reason"] = np.where(hit, NULL, d["reason"])
        return d

    def _qc_inspections(self, d):
        if self.on("run_without_qc"):
            run = d["run"]
            drop = (self.run_line[run] == 1) & self.recent(self.run_start[run], days=3)
            if self._hit("run_without_qc", np.flatnonzero(drop)):
                d = _rows(d, ~drop)
        return d

    # -- ads and finance
    def _campaigns(self, d):
        live = np.flatnonzero(d["start"] <= self.w.last_day)
        if self._hit("campaign_approved_late", live):
            i = live[np.argmax(d["start"][live])]
            d["approved"][i] = min((d["start"][i] + 2) * DAY + 10 * HOUR, self.w.cutoff - 1)
            d["updated"][i] = max(d["updated"][i], d["approved"][i])
        return d

    def _ad_spend_daily(self, d):
        day_s = d["day"] * DAY
        if self.on("campaign_over_budget"):
            recent = self.recent(day_s)
            camps = np.unique(d["c"][recent])
            if self._hit("campaign_over_budget", camps):
                budget = self.seen["campaigns"]["budget"]
                c = camps[np.argmax([d["spend"][d["c"] == x].sum() / budget[x] for x in camps])]
                rows = np.flatnonzero(recent & (d["c"] == c))
                extra = 1.3 * budget[c] - d["spend"][d["c"] == c].sum()
                d["spend"][rows] += int(np.ceil(max(extra, 0) / len(rows)))
        if self.on("spend_day_missing"):
            day = self.w.last_day - 3
            around = [set(d["c"][d["day"] == x]) for x in (day - 1, day, day + 1)]
            camps = sorted(around[0] & around[1] & around[2])
            if self._hit("spend_day_missing", camps):
                d = _rows(d, ~((d["day"] == day) & (d["c"] == camps[0])))
        if self.on("clicks_above_impressions"):
            rows = np.flatnonzero(self.recent(d["day"] * DAY))
            if self._hit("clicks_above_impressions", rows):
                d["clicks"][rows[0]] = d["impr"][rows[0]] + 50
        if self.on("spend_from_unknown_campaign") and len(d["day"]):
            self.applied.add("spend_from_unknown_campaign")
            d = _with_row(d, 0, day=self.w.last_day - 1, plat=0, c=9998, impr=1000, clicks=25, spend=2500, cur=0)
        return d

    def _fx_rates(self, d):
        drop = (d["cur"] == CURRENCIES.index("GBP")) & (d["day"] > self.w.last_day - 7)
        if self._hit("missing_fx_rates", np.flatnonzero(drop)):
            d = _rows(d, ~drop)
        return d

    # -- storefront and logistics
    def _orders(self, d):
        paid = np.flatnonzero((d["status"] == _code(ORDER_STATUSES, "paid")) & self.recent(d["updated"]))
        if self._hit("duplicate_order_id", paid):
            i = paid[len(paid) // 2]
            d = _with_row(d, i, total=d["total"][i] + 1000)
        return d

    def _shipments(self, d):
        if self.on("missing_tracking_numbers"):
            ships = np.unique(d["s"][self.recent(d["shipped"])])[:15]
            if self._hit("missing_tracking_numbers", ships):
                d["trk"] = np.where(np.isin(d["s"], ships), NULL, d["trk"])
        if self.on("delivered_before_shipped"):
            rows = np.flatnonzero((d["status"] == _code(SHIPMENT_STATUSES, "delivered")) & self.recent(d["delivered"]))
            if self._hit("delivered_before_shipped", rows):
                d["delivered"][rows[-1]] = d["shipped"][rows[-1]] - DAY
        return d

    def _shipment_lines(self, d):
        rows = np.flatnonzero(self.recent(d["created"]))
        if self._hit("over_shipment", rows):
            d["qty"][rows[-1]] += 3
        return d

    def _inventory_snapshots(self, d):
        if self.on("missing_inventory_snapshot"):
            day = (d["day"] == self.w.last_day - 2) & (d["wh"] == 0)
            skus = np.unique(d["sku"][day])[:10]
            if self._hit("missing_inventory_snapshot", skus):
                d = _rows(d, ~(day & np.isin(d["sku"], skus)))
        if self.on("no_reorder_below_rop"):
            low = self.recent(d["day"] * DAY) & (d["on_hand"] - d["reserved"] <= self.w.sku_rop[d["sku"]])
            if self._hit("no_reorder_below_rop", np.flatnonzero(low)):
                d["inbound"] = np.where(low, 0, d["inbound"])
        if self.on("reserved_above_on_hand"):
            rows = np.flatnonzero(self.recent(d["day"] * DAY))
            if self._hit("reserved_above_on_hand", rows):
                d["reserved"][rows[-1]] = d["on_hand"][rows[-1]] + 5
        return d

    def _returns(self, d):
        if self.on("return_without_reason"):
            rets = np.unique(d["r"][self.recent(d["requested"])])
            pick = rets[self.rng("return_without_reason").random(len(rets)) < 0.2]
            if self._hit("return_without_reason", pick):
                d["why"] = np.where(np.isin(d["r"], pick), NULL, d["why"])
        if self.on("refund_above_value"):
            rows = np.flatnonzero((d["amount"] > 0) & self.recent(d["updated"]))
            if self._hit("refund_above_value", rows):
                d["amount"][rows[-1]] = int(d["amount"][rows[-1]] * 1.5)
        return d

    # -- file faults (after everything is written)
    def damage_files(self, out: Path) -> None:
        if self.on("broken_export_file"):
            day = (EPOCH + dt.timedelta(days=self.w.last_day - 1)).isoformat()
            path = out / BY_NAME["web_events"].folder / BY_NAME["web_events"].file_name(day)
            lines = path.read_text().splitlines(keepends=True) if path.exists() else []
            carts = [i for i, line in enumerate(lines) if '"add_to_cart"' in line]
            if carts:
                i = carts[len(carts) // 2]
                row = json.loads(lines[i])
                row["quantity"] = f"{row.get('quantity') or 1} units"  # a value the contract type cannot take
                lines[i] = json.dumps(row, separators=(",", ":")) + "\n"
                path.write_text("".join(lines))
                self.applied.add("broken_export_file")
        if self.on("truncated_export_file"):
            day = (EPOCH + dt.timedelta(days=self.w.last_day - 3)).isoformat()
            path = out / BY_NAME["web_sessions"].folder / BY_NAME["web_sessions"].file_name(day)
            lines = path.read_text().splitlines(keepends=True) if path.exists() else []
            if len(lines) > 11:
                path.write_text("".join(lines[: 1 + (len(lines) - 1) // 10]))
                self.applied.add("truncated_export_file")


# --- entry point -----------------------------------------------------------------------

def generate_demo_exports(out_dir: Path, days: int = 90, scale: float = 1.0, seed: int = 42,
                          end_date: dt.date | None = None,
                          progress: Callable[[str], None] | None = print,
                          faults=None) -> dict[str, int]:
    """Write every export of EXPORTS into out_dir as the source systems would; return rows written per export name.

    `end_date` (default: yesterday, UTC) is the last day delivered; the period is the `days`
    days ending there. `scale` multiplies the volumes (sessions, orders, tickets linearly;
    SKUs, production lines and agents moderately). The same (days, scale, seed, end_date)
    writes byte-identical files. Files of the same name in out_dir are overwritten; other
    files are left alone, so write into an empty directory.

    `faults`: breaches of the SOPs to inject (docs/faults.md): None (clean data), True or
    "default", "all", or fault names (a list or comma-separated text). A fault that finds nothing
    to break (a period too short) raises. Without faults the files are exactly those of a clean run.
    """
    from .demo_faults import BY_NAME as FAULT_NAMES, resolve

    wanted = resolve(faults)
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    end = end_date or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    writer = _Writer(out, say)
    try:
        w = _World(days, scale, seed, end, writer)
        w.faults = _Faults(wanted, w)
        say(f"demo exports: {w.start}..{end} ({days} days), scale {scale:g}, seed {seed} -> {out}"
            + (f", faults: {', '.join(sorted(wanted))}" if wanted else ""))
        _finance(w)
        _catalog(w)
        _ads(w)
        _storefront(w)
        _fulfilment(w)
        _inventory(w)
        _helpdesk(w)
        _mes(w)
        w.faults.note_behaviour()
        w.faults.damage_files(out)
        missing = sorted(wanted - w.faults.applied)
        if missing:
            raise ValueError(f"fault(s) {', '.join(missing)} found nothing to break in {days} days at scale {scale:g}: "
                             f"use a longer period ({', '.join(FAULT_NAMES[m].export for m in missing)})")
        rows = {e.name: writer.rows.get(e.name, 0) for e in EXPORTS}
        say(f"demo exports: {sum(rows.values()):,} rows in {sum(writer.files.values()):,} files ({time.perf_counter() - t0:.1f} s)")
        return rows
    finally:
        writer.close()
