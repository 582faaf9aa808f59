"""Converting text to the contract's types: one set of rules for every format."""
from __future__ import annotations

from ..exports import Export
from ..sql import literal
from .common import RAW_LINE_CHARS, _ident, _type

_EXPECTED = {
    "VARCHAR": "text without NUL bytes, not an Excel formula such as =\"00123\" (export the value itself)",
    "BOOLEAN": "true/false (also t/f, yes/no, y/n, 1/0)",
    "INTEGER": "a whole number",
    "BIGINT": "a whole number",
    "DOUBLE": "a finite number with '.' as the decimal point",
    "DECIMAL(18,4)": "a number with '.' as the decimal point (at most 14 digits before it)",
    "DATE": "a date YYYY-MM-DD (four-digit year, 1900 or later; day-first and two-digit years are ambiguous)",
    "TIMESTAMP": "an ISO 8601 timestamp such as 2026-01-31 23:59:00, 2026-01-31T23:59:00Z or "
                 "2026-01-31T23:59:00+02:00 (converted to UTC), or a date alone (midnight UTC); four-digit year, "
                 "1900 or later (day-first and two-digit years are ambiguous)",
}


YEAR_FLOOR = 1900  # an earlier year in an export is a misread date (a two-digit year), never loaded


FLOOR, CEILING = f"'{int(YEAR_FLOOR)}-01-01'", "'9999-12-31'"  # the ceiling keeps out infinity


def _convert(x: str, type_: str) -> tuple[str, str]:
    """(typed value, ok) SQL for text column `x` (a contract name): ok is false when a value is present but does not fit."""
    t = _type(type_)
    if t == "VARCHAR":
        # Excel's `="00123"` (a formula keeping leading zeros) is not the text 00123: refused, never loaded as is.
        # A NUL byte is a corrupt or binary value, never text a system meant.
        text_ok = f"NOT (starts_with({x}, '=\"') OR contains({x}, chr(0)))"
        return f"CASE WHEN {text_ok} THEN {x} END", f"({x} IS NULL OR {text_ok})"
    if t in ("INTEGER", "BIGINT"):
        # DuckDB rounds '2.5' to 3: a fractional value is refused, never rounded.
        value = (f"CASE WHEN NOT (contains({x}, '.') OR contains(lower({x}), 'e')) THEN TRY_CAST({x} AS {t}) "
                 f"WHEN TRY_CAST({x} AS DECIMAL(38,9)) = trunc(TRY_CAST({x} AS DECIMAL(38,9))) THEN TRY_CAST({x} AS {t}) END")
    elif t == "DOUBLE":
        value = f"CASE WHEN isfinite(TRY_CAST({x} AS DOUBLE)) THEN TRY_CAST({x} AS DOUBLE) END"
    elif t == "DATE":
        # A date, or a timestamp at midnight: a time of day in a date column is refused, never cut off.
        # From YEAR_FLOOR on: DuckDB reads '30-06-26' as the year 30, '12/6/26' as the year 12.
        value = (f"CASE WHEN TRY_CAST({x} AS DATE) BETWEEN DATE {FLOOR} AND DATE {CEILING} AND (TRY_CAST({x} AS TIMESTAMP) IS NULL "
                 f"OR CAST(TRY_CAST({x} AS TIMESTAMP) AS TIME) = TIME '00:00:00') THEN TRY_CAST({x} AS DATE) END")
    elif t == "TIMESTAMP":
        # Through TIMESTAMPTZ (session time zone UTC): an offset or Z converts to UTC instead of being dropped.
        # From YEAR_FLOOR on, as dates.
        value = (f"CASE WHEN TRY_CAST({x} AS TIMESTAMPTZ) BETWEEN TIMESTAMPTZ {FLOOR} AND TIMESTAMPTZ {CEILING} "
                 f"THEN CAST(TRY_CAST({x} AS TIMESTAMPTZ) AS TIMESTAMP) END")
    else:
        value = f"TRY_CAST({x} AS {t})"
    return value, f"({x} IS NULL OR ({value}) IS NOT NULL)"


def _raw_row(e: Export) -> str:
    """The row as read (text), as a JSON object: what raw._rejects keeps of a rejected row."""
    return "CAST(json_object(" + ", ".join(f"'{_ident(c)}', {_ident(c)}" for c in e.column_names) + ") AS VARCHAR)"


def _clip(expr: str) -> str:
    return (f"CASE WHEN length({expr}) > {RAW_LINE_CHARS} THEN left({expr}, {RAW_LINE_CHARS}) || '… ('"
            f" || length({expr}) || ' characters)' ELSE {expr} END")


def _key_text(e: Export, alias: str = "") -> str:
    """'order_id=O1, line=2' for the primary key of a row, as SQL."""
    parts = [f"'{_ident(k)}=' || coalesce(CAST({alias}{_ident(k)} AS VARCHAR), 'NULL')" for k in e.primary_key]
    return " || ', ' || ".join(parts)


def _convert_into_stage(con, e: Export, source_sql: str) -> None:
    """Convert text rows (fid, _ord, _line, contract columns) once: typed rows into _stage, rows with a
    value that does not fit its column into _stage_rejects.

    One pass: every row goes into _stage with, for a row that does not fit, its column, error and the row
    as read (NULL for the others); those few rows then move to _stage_rejects."""
    checks = {c.name: _convert(_ident(c.name), c.type) for c in e.columns}
    checked = [c for c in e.columns if checks[c.name][1] != "TRUE"]
    typed = ", ".join(f"{checks[c.name][0]} AS v{i}" for i, c in enumerate(e.columns))
    values = ", ".join(f"v{i}" for i in range(len(e.columns)))
    if not checked:
        con.execute(f"INSERT INTO _stage SELECT fid, _ord, _line, {values}, NULL, NULL, NULL FROM (SELECT *, {typed} FROM ({source_sql}))")
        return
    bad = "CASE " + " ".join(f"WHEN {_ident(c.name)} IS NOT NULL AND v{e.columns.index(c)} IS NULL THEN '{_ident(c.name)}'"
                             for c in checked) + " END"
    whens = []
    for c in checked:
        name = _ident(c.name)
        after = '" is not ' + _type(c.type) + "; expected " + _EXPECTED[c.type]
        whens.append(f"WHEN '{name}' THEN {literal('column ' + name + ': ' + chr(34))} || replace(left({name}, 200), chr(0), '\\0') || {literal(after)}")
    con.execute(
        f"""INSERT INTO _stage SELECT fid, _ord, _line, {values}, _bad, CASE _bad {' '.join(whens)} END,
                   CASE WHEN _bad IS NOT NULL THEN {_clip(_raw_row(e))} END
            FROM (SELECT *, {bad} AS _bad FROM (SELECT *, {typed} FROM ({source_sql})))""")
    if con.execute("SELECT count(*) FROM _stage WHERE _bad IS NOT NULL").fetchone()[0]:
        con.execute("INSERT INTO _stage_rejects SELECT fid, _ord, _line, _bad, _error, _raw FROM _stage WHERE _bad IS NOT NULL")
        con.execute("DELETE FROM _stage WHERE _bad IS NOT NULL")


def _typed_raw_row(e: Export, alias: str = "") -> str:
    return _clip("CAST(json_object(" + ", ".join(f"'{_ident(c)}', {alias}{_ident(c)}" for c in e.column_names) + ") AS VARCHAR)")
