"""Reading each format into the stage tables (typed rows, rejects with file, line, column, error)."""
from __future__ import annotations

import duckdb

from ..exports import Export
from ..sql import literal
from .common import ContractViolation, JSONL_SPLIT, LoadResult, MAX_LINE_BYTES, MAX_LISTED, _capped, _ident, _insert_rows, _type
from .files import _File
from .header import check_contract
from .convert import _clip, _convert_into_stage, _typed_raw_row
from .quarantine import _drop_rejected_rows

# --- staging --------------------------------------------------------------------------------
# Each scan reads text into a temp table, is converted once into _stage (typed rows) and
# _stage_rejects (quarantined rows, with file, ordinal, line, column, error, the row as read).


_REJECT_TYPES = {
    "MISSING COLUMNS": " (fewer fields than the header: a truncated line?)",
    "TOO MANY COLUMNS": " (more fields than the header: a value with an unquoted delimiter?)",
    "UNQUOTED VALUE": " (an unterminated or misplaced quote)",
    "INVALID ENCODING": " (the line is not valid UTF-8)",
    "INVALID UNICODE": " (the line is not valid UTF-8)",
}


def _create_stage_tables(con, e: Export) -> None:
    typed_cols = ", ".join(f"{_ident(c.name)} {_type(c.type)}" for c in e.columns)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _stage (fid INTEGER, _ord BIGINT, _line BIGINT, {typed_cols},
                _bad VARCHAR, _error VARCHAR, _raw VARCHAR);  -- a row that does not convert: moved to _stage_rejects
            CREATE OR REPLACE TEMP TABLE _stage_rejects (fid INTEGER, _ord BIGINT, line BIGINT,
                column_name VARCHAR, error VARCHAR, raw_line VARCHAR);
            CREATE OR REPLACE TEMP TABLE _paths (fid INTEGER, read_path VARCHAR, rel VARCHAR, exact_lines BOOLEAN);
            CREATE OR REPLACE TEMP TABLE _colnames (fid INTEGER, position_name VARCHAR, header_name VARCHAR)""")


def _scan(con, sql: str, params: list, header_rows: int) -> str:
    """Run a read_csv scan (WITH ORDINALITY, filename, store_rejects) into _scan_raw, quarantine the
    records DuckDB's reader rejects, and return a SELECT of the accepted records with their file
    (fid), per-file ordinal (_ord) and line (_line, NULL where empty lines make it unknown)."""
    con.execute("DROP TABLE IF EXISTS _rej_errors; DROP TABLE IF EXISTS _rej_scans")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _scan_raw AS {sql.replace('{parallel}', '')}", params)
    except duckdb.Error as exc:
        if "null_padding" not in str(exc) or "parallel" not in str(exc):
            raise
        # DuckDB's parallel reader cannot pad rows of a file with quoted line breaks: read it in one thread.
        con.execute("DROP TABLE IF EXISTS _rej_errors; DROP TABLE IF EXISTS _rej_scans")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _scan_raw AS {sql.replace('{parallel}', ', parallel = false')}", params)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _scan_files AS
           SELECT p.fid, p.exact_lines, r.filename, min(r.ordinality) - 1 AS before, max(r.ordinality) - min(r.ordinality) + 1 AS span,
                  count(*) AS n
           FROM _scan_raw r JOIN _paths p ON p.read_path = r.filename GROUP BY ALL""")
    if con.execute("SELECT count(*) FROM _scan_files WHERE span != n").fetchone()[0]:
        raise RuntimeError("DuckDB interleaved the rows of several files in one scan: please report it")
    try:
        con.execute(
            f"""INSERT INTO _stage_rejects
                SELECT p.fid, NULL, e.line,
                       arg_min(CASE WHEN e.column_name != 'j' THEN coalesce(c.header_name, e.column_name) END,
                               coalesce(e.column_idx, 0)),
                       arg_min(e.error_message || CASE e.error_type {' '.join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in _REJECT_TYPES.items())} ELSE '' END,
                               coalesce(e.column_idx, 0)),
                       {_clip('arg_min(e.csv_line, coalesce(e.column_idx, 0))')}
                FROM _rej_errors e JOIN _rej_scans s USING (scan_id, file_id)
                JOIN _paths p ON p.read_path = s.file_path
                LEFT JOIN _colnames c ON c.fid = p.fid AND c.position_name = e.column_name
                GROUP BY p.fid, e.line"""
        )
    except duckdb.CatalogException:
        pass  # no rejects table: nothing was rejected
    # Line of an accepted record = its ordinal + header + the rejected records before it.
    header_rows = int(header_rows)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rl AS
            SELECT fid, acc_before, max(j) AS j FROM (
                SELECT fid, line - row_number() OVER (PARTITION BY fid ORDER BY line) - {header_rows} AS acc_before,
                       row_number() OVER (PARTITION BY fid ORDER BY line) AS j
                FROM (SELECT DISTINCT fid, line FROM _stage_rejects WHERE _ord IS NULL AND line IS NOT NULL)
                WHERE fid IN (SELECT fid FROM _scan_files))
            GROUP BY ALL""")
    scan = """SELECT f.fid, f.exact_lines, r.ordinality - f.before AS _ord, r.*
              FROM _scan_raw r JOIN _scan_files f USING (filename)"""
    if not con.execute("SELECT count(*) FROM _rl").fetchone()[0]:
        return f"SELECT s.*, CASE WHEN s.exact_lines THEN s._ord + {header_rows} END AS _line FROM ({scan}) s"
    return f"""SELECT s.*, CASE WHEN s.exact_lines THEN s._ord + {header_rows} + coalesce(rl.j, 0) END AS _line
               FROM ({scan}) s ASOF LEFT JOIN _rl rl ON s.fid = rl.fid AND s._ord > rl.acc_before"""


def _stage_csv(con, e: Export, files: list[_File]) -> None:
    groups: dict[tuple, list[_File]] = {}
    for f in files:
        if not f.empty:
            groups.setdefault((tuple(f.header), f.delimiter, f.compression), []).append(f)
    for (header, delimiter, compression), members in groups.items():
        # Columns are named by position: header names come from the file and never reach SQL text.
        # One more column than the header, padded with NULL, and empty fields read as '' (nullstr
        # matches nothing): DuckDB silently drops one extra *empty* trailing field, which would
        # shift a row with an unquoted delimiter; this way a missing field is NULL and an extra
        # one is not, and both are quarantined.
        n = len(header)
        struct = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n + 1)) + "}"
        pos = {h: i for i, h in enumerate(header) if h in set(e.column_names)}
        _insert_rows(con, "_colnames", [[f.fid, f"c{i}", h] for f in members for i, h in enumerate(header)], 3)
        lined = _scan(con,
                      f"""SELECT * FROM read_csv(?, header = true, columns = {struct}, auto_detect = false, delim = ?,
                          quote = '"', escape = '"', compression = ?, max_line_size = {MAX_LINE_BYTES}, filename = true,
                          null_padding = true, nullstr = '\\x01'{{parallel}}, store_rejects = true,
                          rejects_table = '_rej_errors', rejects_scan = '_rej_scans') WITH ORDINALITY""",
                      [[str(f.read_path) for f in members], delimiter, compression], header_rows=1)
        fields = "[" + ", ".join(f"c{i}" for i in range(n)) + "]"
        if any(f.header_again for f in members):
            _refuse_reordered_header(con, lined, n, list(header), [f for f in members if f.header_again])
        con.execute(
            f"""INSERT INTO _stage_rejects
                SELECT l.fid, l._ord, l._line, c.header_name,
                       CASE WHEN c{n} IS NOT NULL
                            THEN {literal(f"more fields than the header's {n}: a value with an unquoted delimiter?")}
                            ELSE 'only ' || (list_position({fields}, NULL) - 1) || {literal(f" of the header's {n} fields: a truncated line or an unterminated quote?")}
                       END, {_clip("concat_ws(" + literal(delimiter) + ", " + ", ".join(f"c{i}" for i in range(n + 1)) + ")")}
                FROM ({lined}) l LEFT JOIN _colnames c
                  ON c.fid = l.fid AND c.position_name = 'c' || (coalesce(list_position({fields}, NULL), {n + 1}) - 1)
                WHERE c{n - 1} IS NULL OR c{n} IS NOT NULL""")
        sel = ", ".join(f"nullif(c{pos[c]}, '') AS {_ident(c)}" if c in pos else f"NULL AS {_ident(c)}" for c in e.column_names)
        _convert_into_stage(con, e, f"SELECT fid, _ord, _line, {sel} FROM ({lined}) WHERE c{n - 1} IS NOT NULL AND c{n} IS NULL")


def _refuse_reordered_header(con, lined: str, n: int, header: list[str], members: list[_File]) -> None:
    """A header row inside a file (files concatenated by hand) listing the columns in another order would
    load the rows after it under the first header's positions: the file fails, naming the line. (In the
    same order, the row is quarantined by the conversion like any row that does not fit.)"""
    trimmed = "[" + ", ".join(f"trim(c{i})" for i in range(n)) + "]"
    found = con.execute(
        f"""SELECT fid, _line, {trimmed} FROM ({lined})
            WHERE fid IN (SELECT unnest(?::INTEGER[])) AND trim(c0) IN (SELECT unnest(?::VARCHAR[])) AND c{n} IS NULL
              AND list_sort({trimmed}) = list_sort(?::VARCHAR[]) AND {trimmed} != ?::VARCHAR[]
            ORDER BY fid, _ord LIMIT 1""", [[f.fid for f in members], header, header, header]).fetchone()
    if found:
        fid, line_no, names = found
        path = next(f.path for f in members if f.fid == fid)
        raise ContractViolation(
            f"{path}, line {line_no if line_no is not None else '?'}: a second header row lists the columns in another "
            f"order ({', '.join(names[:MAX_LISTED])}) than the first header row; the rows after it would load into the "
            "wrong columns (files concatenated by hand?). Deliver one header row per file, or the parts as separate "
            "files. Nothing of this export was loaded in this run.")


def _quarantine_unterminated(con, e: Export, files: list[_File]) -> None:
    """The last record of a file whose last line has no terminator: cut short in transfer (`12` read as `1`)?"""
    fids = [f.fid for f in files if f.unterminated and not f.empty]
    if not fids:
        return
    con.execute(
        f"""INSERT INTO _stage_rejects
            SELECT s.fid, s._ord, s._line, NULL, {literal(
                "the last line has no line terminator: the file may have been cut short in transfer (a value such "
                "as 12 read as 1); deliver it again complete, ending with a line break")}, {_typed_raw_row(e, 's.')}
            FROM _stage s JOIN (
                SELECT fid, max(_ord) AS last_ord FROM (
                    SELECT fid, _ord FROM _stage UNION ALL SELECT fid, _ord FROM _stage_rejects WHERE _ord IS NOT NULL)
                WHERE fid IN (SELECT unnest(?::INTEGER[])) GROUP BY fid) m ON s.fid = m.fid AND s._ord = m.last_ord
            WHERE NOT EXISTS (SELECT 1 FROM _stage_rejects r
                              WHERE r.fid = s.fid AND r._ord IS NULL AND s._line IS NOT NULL AND r.line > s._line)""",
        [fids])
    _drop_rejected_rows(con)


def _stage_jsonl(con, e: Export, files: list[_File], result: LoadResult) -> None:
    """Read JSON lines as text lines (exact line numbers, bad lines quarantined) and parse each in the
    same pass: whether it is an object, its first key given twice, a nested value where the contract
    has text; then quarantine those lines in one statement and convert the others."""
    by_compression: dict[str, list[_File]] = {}
    for f in files:
        if not f.empty:
            by_compression.setdefault(f.compression, []).append(f)
    by_fid = {f.fid: f for f in files}
    shape = '{' + ", ".join(f'"{_ident(c)}": "VARCHAR"' for c in e.column_names) + '}'
    # Lines with the contract's keys in its order (what a writer usually sends) cannot hold a key twice:
    # only the others are searched for one, and only they keep their key list for the contract check.
    usual = "[" + ", ".join(f"'{_ident(c)}'" for c in e.column_names) + "]"
    texts = [_ident(c.name) for c in e.columns if c.type == "VARCHAR"]
    # An object or array where the contract has text would load as its JSON text: quarantined. Only lines
    # with a '[' or a second '{' can hold one: the others are not parsed again.
    nested = ("CASE WHEN contains(j, '[') OR contains(substr(ltrim(j), 2), '{') THEN CASE "
              + " ".join(f"WHEN json_type(j, '$.{c}') IN ('OBJECT', 'ARRAY') THEN '{c}'" for c in texts)
              + " END END") if texts else "CAST(NULL AS VARCHAR)"
    for compression, members in by_compression.items():
        lined = _scan(con,
                      f"""SELECT * EXCLUDE (ks), ks IS NOT NULL AS ok,
                                 CASE WHEN ks != {usual} THEN ks END AS other_keys,
                                 CASE WHEN ks != {usual} THEN list_filter(ks, lambda x, i: list_position(ks, x) < i)[1] END AS twice,
                                 CASE WHEN ks IS NOT NULL THEN {nested} END AS nested
                          FROM (SELECT *, CASE WHEN json_valid(j) AND starts_with(ltrim(j), '{{') THEN json_keys(j) END AS ks
                                FROM read_csv(?, header = false, columns = {{'j': 'VARCHAR'}}, auto_detect = false,
                                     delim = ?, quote = '', escape = '', compression = ?, max_line_size = {MAX_LINE_BYTES},
                                     filename = true, store_rejects = true, rejects_table = '_rej_errors',
                                     rejects_scan = '_rej_scans') WITH ORDINALITY)""",
                      [[str(f.read_path) for f in members], JSONL_SPLIT, compression], header_rows=0)
        # One reason per line, the first that applies: not an object, a key twice (DuckDB would keep the
        # first value; the writer may have meant the last), a nested value.
        con.execute(
            f"""INSERT INTO _stage_rejects SELECT fid, _ord, _line, CASE WHEN ok THEN coalesce(twice, nested) END,
                CASE WHEN NOT ok THEN {literal('not a JSON object (expected one object per line: {"column": value, ...})')}
                     WHEN twice IS NOT NULL THEN {literal("key ")} || twice || {literal(" twice in one object: nobody can tell which value is meant")}
                     ELSE 'column ' || nested || ': a JSON ' || lower(json_type(j, '$.' || nested)) || {literal(
                         " where the contract has text; expected a JSON string, number or boolean")}
                END, {_clip('j')}
                FROM ({lined}) WHERE (NOT ok AND trim(coalesce(j, '')) != '') OR twice IS NOT NULL OR nested IS NOT NULL""")
        good = "ok AND twice IS NULL AND nested IS NULL"  # an empty line is not ok, and not quarantined either
        # The keys each file uses, checked against the contract like a CSV header.
        keys = con.execute(
            f"""SELECT p.fid, list(DISTINCT k ORDER BY k) FROM (
                    SELECT filename, unnest(coalesce(other_keys, {usual})) AS k
                    FROM (SELECT DISTINCT filename, other_keys FROM _scan_raw WHERE {good})) JOIN _paths p ON p.read_path = filename
                GROUP BY p.fid""").fetchall()
        for fid, names in keys:
            f = by_fid[fid]
            f.header = names
            extra = check_contract(f.path, names, e, what="key")
            if extra:
                result.extra_columns[f.rel] = _capped(extra)
        _convert_into_stage(
            con, e, f"""SELECT fid, _ord, _line, {', '.join('v.' + _ident(c) for c in e.column_names)}
                        FROM (SELECT fid, _ord, _line, json_transform(j, '{shape}') AS v FROM ({lined}) WHERE {good})""")


def _stage_parquet(con, e: Export, files: list[_File]) -> None:
    for f in files:
        if f.empty:
            continue
        present = set(f.header)
        sel = ", ".join(f"CAST({_ident(c)} AS VARCHAR) AS {_ident(c)}" if c in present else f"NULL AS {_ident(c)}"
                        for c in e.column_names)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _pq AS SELECT * FROM read_parquet(?, file_row_number = true)",
                        [str(f.read_path)])
        except duckdb.Error as exc:
            raise ContractViolation(f"{f.path}: could not be read as Parquet ({exc}); "
                                    "nothing of this export was loaded in this run") from exc
        _convert_into_stage(con, e, f"SELECT {int(f.fid)} AS fid, file_row_number + 1 AS _ord, file_row_number + 1 AS _line, {sel} FROM _pq")
        con.execute("DROP TABLE _pq")
