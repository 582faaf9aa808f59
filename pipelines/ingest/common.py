"""What every part of the loader shares: its tables, limits, errors, result and SQL identifiers."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..exports import Export
from ..exports.contract import TYPES

LOAD_LOG = "raw._load_log"
REJECTS = "raw._rejects"

DELIMITERS = (",", ";", "\t", "|")  # tried on the header when the contract's does not fit
MAX_LINE_BYTES = 2_000_000  # longer lines are quarantined (DuckDB's reader limit)
RAW_LINE_CHARS = 2_000  # how much of a rejected line is kept in raw._rejects
MAX_LISTED = 20  # names listed in a message before "and N more"
SNIFF_BYTES = 8 << 20  # decompressed bytes of a gzip file inspected for encoding and empty lines
GZIP_MAGIC = b"\x1f\x8b"
JSONL_SPLIT = "\x1f"  # a control character never found in a valid JSON line: one line, one field
# Test hook: "<export>:<marker file>" pauses that export's load inside its transaction (after the
# writes, before COMMIT) and touches the marker, so a crash test can SIGKILL the run right there.
PAUSE_ENV = "KPI_TEST_PAUSE_INGEST"


class ContractViolation(ValueError):
    """A landing file that breaks its export contract (or cannot be read at all)."""


@dataclass
class LoadResult:
    export: str
    files_seen: int = 0
    files_loaded: list[str] = field(default_factory=list)
    files_unchanged: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_in_table: int = 0
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    reject_sample: list[dict] = field(default_factory=list)
    # What the loader noticed and handled, one line per file (transcoded, delimiter detected, ...).
    warnings: list[str] = field(default_factory=list)


_IDENT = re.compile(r"[a-z_][a-z0-9_]*")


def _ident(name: str) -> str:
    """A contract name, safe as a bare SQL identifier (the only names the loader splices into SQL)."""
    if not _IDENT.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid contract identifier (lower-case letters, digits, _)")
    return name


def _type(type_: str) -> str:
    if type_ not in TYPES:
        raise ValueError(f"{type_!r} is not a contract type")
    return type_


def _table(e: Export) -> str:
    return f"raw.{_ident(e.name)}"


def _listed(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def _insert_rows(con, table: str, rows: list[list], ncols: int) -> None:
    """Insert many rows in one statement (executemany runs one statement per row); values are bound."""
    if not rows:
        return
    columns = [list(c) for c in zip(*rows)]
    con.execute(f"INSERT INTO {table} SELECT " + ", ".join(f"unnest(${i + 1})" for i in range(ncols)), columns)


def _capped(names: list[str]) -> list[str]:
    return names[:MAX_LISTED] + ([f"(+{len(names) - MAX_LISTED} more)"] if len(names) > MAX_LISTED else [])
