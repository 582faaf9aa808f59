"""Checking a file's header (CSV header row, Parquet schema, JSON keys) against its export contract."""
from __future__ import annotations

import csv
import difflib
import mmap
import os
import re
from pathlib import Path

import duckdb

from ..exports import Export
from .common import ContractViolation, DELIMITERS, GZIP_MAGIC, _listed
from .files import _File, _first_line

def _csv_header(f: _File, e: Export) -> None:
    """Header names and delimiter: the contract's delimiter, or another one if only it yields the required columns."""
    line, more = _first_line(f)
    if not line.strip():
        if more:
            raise ContractViolation(f"{f.path}, line 1: empty; expected the header row ({', '.join(e.column_names)})")
        f.empty = True
        return
    required = set(e.required_columns)
    candidates = [e.delimiter] + [d for d in DELIMITERS if d != e.delimiter]
    parsed = {d: [h.strip() for h in next(csv.reader([line], delimiter=d))] for d in candidates}
    f.delimiter = next((d for d in candidates if required <= set(parsed[d])), e.delimiter)
    f.header = parsed[f.delimiter]
    f.header_again = _header_name_starts_a_line(f)
    if f.delimiter != e.delimiter:
        f.notes.append(f"delimiter {f.delimiter!r} detected from the header (the contract's is {e.delimiter!r})")


def _header_name_starts_a_line(f: _File) -> bool:
    """Whether a line after the first starts with a header name and a delimiter (bare, quoted, after a
    BOM): only then can a header row be repeated inside the file, and only then is one looked for in
    SQL, a pass over the rows (one regex pass over the bytes instead: ~7 s of 100 at 445k demo rows)."""
    names = [h for h in f.header if h]
    if f.gzip or not names:
        return True
    pattern = re.compile(rb'[\r\n](?:\xef\xbb\xbf)?"?(?:' + b"|".join(re.escape(h.encode()) for h in names)
                         + rb')"? *' + re.escape(f.delimiter.encode()))
    with open(f.read_path, "rb") as raw:
        if os.fstat(raw.fileno()).st_size == 0:
            return False
        with mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return pattern.search(data) is not None


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def check_contract(path: Path, header: list[str], e: Export, *, what: str = "column") -> list[str]:
    """Raise on a file-level contract problem; return the extra (ignored) names.

    JSON lines (what="key"): writers leave out null keys, so only the primary key must appear.
    """
    known = set(e.column_names)
    by_norm = {_norm(c): c for c in e.column_names}
    near = [(h, by_norm[_norm(h)]) for h in header
            if h not in known and _norm(h) in by_norm and by_norm[_norm(h)] not in header]
    if near:
        pairs = ", ".join(f"{h!r} (contract: {c!r})" for h, c in near)
        raise ContractViolation(
            f"{path}: {what}(s) {pairs} differ from the contract's names only in case, spacing or punctuation; "
            f"names must match exactly (expected: {', '.join(e.column_names)}). "
            "Nothing of this export was loaded in this run.")
    required = e.required_columns if what == "column" else list(e.primary_key)
    missing = [c for c in required if c not in header]
    if missing:
        hints = []
        for c in missing:
            close = difflib.get_close_matches(c, [h for h in header if h not in known], n=1, cutoff=0.75)
            if close:
                hints.append(f"{close[0]!r} for {c!r}?")
        hint = f" Did you mean {' '.join(hints)}" if hints else ""
        if not known & set(header):
            hint += " (no contract name at all: is the header row missing, or the delimiter not "\
                    f"{e.delimiter!r}?)"
        raise ContractViolation(
            f"{path}: missing required {what}(s) {', '.join(missing)} of export '{e.name}' "
            f"(the file has: {_listed(header) or 'no ' + what + 's'}; expected: {', '.join(e.column_names)}).{hint} "
            "Nothing of this export was loaded in this run."
        )
    dupes = sorted({h for h in header if header.count(h) > 1 and h in known})
    if dupes:
        raise ContractViolation(f"{path}: {what}(s) {', '.join(dupes)} appear more than once in the header; "
                                "expected each contract column once")
    return [h for h in header if h not in known]


def _looks_like(path: Path) -> str:
    """What a file that does not read as its format seems to hold, for the message."""
    with open(path, "rb") as raw:
        head = raw.read(4096)
        raw.seek(max(0, path.stat().st_size - 4))
        tail = raw.read(4)
    if not head:
        return "an empty file"
    if head[:2] == GZIP_MAGIC:
        return "gzip-compressed data"
    if head[:4] == b"PAR1":
        return "the start of a Parquet file without its end (cut short in transfer?)" if tail != b"PAR1" else "a Parquet file"
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "binary data that is not Parquet"
    first = text.splitlines()[0][:120] if text.strip() else ""
    if first.lstrip().startswith("<"):
        return f"HTML or XML text (first line: {first!r})"
    if first.lstrip().startswith(("{", "[")):
        return f"JSON text (first line: {first!r})"
    return f"CSV or other text (first line: {first!r})"


def _parquet_columns(f: _File) -> list[str]:
    try:
        return [r[0] for r in duckdb.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(f.read_path)]).fetchall()]
    except duckdb.Error as exc:
        raise ContractViolation(f"{f.path}: not a readable Parquet file; it looks like {_looks_like(f.path)} "
                                f"({_landing_names(str(exc), [f])}); nothing of this export was loaded in this run") from exc


def _landing_names(text: str, files: list[_File]) -> str:
    """A message with each private temp copy's name replaced by the landing file it stands for."""
    for f in files:
        if f.read_path is not None:
            text = text.replace(str(f.read_path), str(f.path))
    return text
