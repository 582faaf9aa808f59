"""Quarantining rows by key: empty keys, a key twice in one file, a key another file already loaded."""
from __future__ import annotations

from ..exports import Export
from .common import _ident, _table
from .convert import _key_text, _typed_raw_row

def _drop_rejected_rows(con) -> None:
    con.execute("DELETE FROM _stage WHERE EXISTS (SELECT 1 FROM _stage_rejects r WHERE r.fid = _stage.fid AND r._ord = _stage._ord)")


def _quarantine_keys(con, e: Export) -> None:
    """Empty keys, keys twice in a file, and (non-change exports) keys another file already holds."""
    pk = [_ident(k) for k in e.primary_key]
    first_null = "CASE " + " ".join(f"WHEN {k} IS NULL THEN '{k}'" for k in pk) + " END"
    con.execute(
        f"""INSERT INTO _stage_rejects SELECT fid, _ord, _line, {first_null}, 'primary key is NULL', {_typed_raw_row(e)}
            FROM _stage WHERE {' OR '.join(f'{k} IS NULL' for k in pk)}""")
    _drop_rejected_rows(con)

    # Within a file: identical copies of a row load once; different rows under one key load none.
    ident = pk + ([_ident(e.change_timestamp)] if e.change_timestamp else [])
    what = "primary key" + (f" and {e.change_timestamp}" if e.change_timestamp else "")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _dupkeys AS
            SELECT fid, {', '.join(ident)} FROM _stage GROUP BY fid, {', '.join(ident)} HAVING count(*) > 1""")
    if con.execute("SELECT count(*) FROM _dupkeys").fetchone()[0]:
        _quarantine_duplicates(con, e, ident, what)
    con.execute("DROP TABLE _dupkeys")
    if e.change_timestamp:
        return  # change exports deliver a key again in later files on purpose (staging keeps the newest)
    _quarantine_keys_of_other_files(con, e, pk)


def _quarantine_duplicates(con, e: Export, ident: list[str], what: str) -> None:
    """Rows of a key (and change timestamp) that appears more than once in one file (keys in _dupkeys)."""
    pk = [_ident(k) for k in e.primary_key]
    on = " AND ".join(f"s.{c} IS NOT DISTINCT FROM k.{c}" for c in ident)
    row = ", ".join("s." + _ident(c) for c in e.column_names)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _dupinfo AS
            SELECT s.fid, {', '.join('s.' + c for c in ident)}, count(*) AS n, count(DISTINCT row({row})) AS variants,
                   min(s._ord) AS first_ord, arg_min(s._line, s._ord) AS first_line,
                   array_to_string(list_slice(list(coalesce(CAST(s._line AS VARCHAR), '?') ORDER BY s._ord), 1, 10), ', ')
                   || CASE WHEN count(*) > 10 THEN ', ...' ELSE '' END AS lines
            FROM _stage s JOIN _dupkeys k ON s.fid = k.fid AND {on} GROUP BY ALL""")
    con.execute(
        f"""INSERT INTO _stage_rejects
            SELECT s.fid, s._ord, s._line, '{'/'.join(pk)}',
                   CASE WHEN k.variants = 1
                        THEN 'duplicate row: the same values as line ' || coalesce(CAST(k.first_line AS VARCHAR), '?')
                             || ' of this file, which was loaded once'
                        ELSE '{what} ' || {_key_text(e, 's.')} || ' appears ' || k.n || ' times in this file (lines '
                             || k.lines || ') with different values: none of them was loaded; expected one row per {what}'
                   END, {_typed_raw_row(e, 's.')}
            FROM _stage s JOIN _dupinfo k ON s.fid = k.fid AND {on}
            WHERE k.variants > 1 OR s._ord > k.first_ord""")
    _drop_rejected_rows(con)
    con.execute("DROP TABLE _dupinfo")


def _quarantine_keys_of_other_files(con, e: Export, pk: list[str]) -> None:
    """A non-change export carries each key once: the file that loaded it first keeps it."""
    on_pk = " AND ".join(f"s.{k} = o.{k}" for k in pk)
    t_pk, on_t = ", ".join(f"t.{k}" for k in pk), " AND ".join(f"s.{k} = t.{k}" for k in pk)
    # Only the keys this run brings are looked up: grouping every key of the table cost each nightly
    # run a pass over the whole history (millions of web events).
    con.execute(
        f"""INSERT INTO _stage_rejects
            SELECT s.fid, s._ord, s._line, '{'/'.join(pk)}',
                   'primary key ' || {_key_text(e, 's.')} || ' was already loaded from ' || o.src
                   || ': not loaded again (re-deliver that file to correct the row)', {_typed_raw_row(e, 's.')}
            FROM _stage s JOIN (
                SELECT {t_pk}, min(t._source_file) AS src
                FROM {_table(e)} t SEMI JOIN (SELECT DISTINCT {', '.join(pk)} FROM _stage) s ON {on_t}
                WHERE t._source_file NOT IN (SELECT rel FROM _paths) GROUP BY ALL) o ON {on_pk}""")
    _drop_rejected_rows(con)
    # Within this run (no key is twice in one file by now): the first file in name order keeps it.
    if not con.execute(f"SELECT count(*) FROM (SELECT 1 FROM _stage GROUP BY {', '.join(pk)} HAVING count(*) > 1)").fetchone()[0]:
        return
    con.execute(
        f"""INSERT INTO _stage_rejects
            SELECT s.fid, s._ord, s._line, '{'/'.join(pk)}',
                   'primary key ' || {_key_text(e, 's.')} || ' is also in ' || p.rel
                   || ', loaded in this run: not loaded twice', {_typed_raw_row(e, 's.')}
            FROM (SELECT *, min(fid) OVER (PARTITION BY {', '.join(pk)}) AS first_fid FROM _stage) s
            JOIN _paths p ON p.fid = s.first_fid
            WHERE s.fid != s.first_fid""")
    _drop_rejected_rows(con)
