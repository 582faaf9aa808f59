"""The intake gate of SOP-DATA-01, generated per export from its contract.

The suite (expectations/sop_data_01__export_intake.json) is the same for every export; the
relation it validates is a query over `raw.<export>` built here from the contract:
- `_missing_contract_columns`: the contract's columns the raw table lacks (NULL when none);
- every row of the export loaded in the refresh window, with `_key_copies`: how many rows of the
  whole table share its primary key (with the change timestamp for change exports), so a key
  delivered again in a later file is caught too;
- `_newest_timestamp`: the latest of the row's TIMESTAMP columns (DATE columns such as a
  promised delivery date may lie in the future by design);
- the rows of the same window quarantined in raw._rejects (`_intake_status` = why, `_line`).
SQL identifiers come only from the contracts.
"""
from __future__ import annotations

from ..exports import Export
from .registry import Gate, GateTarget

WINDOW_PLACEHOLDER = "{window_start}"  # replaced by the runner: a TIMESTAMP literal or NULL


def _key_columns(e: Export) -> list[str]:
    keys = list(e.primary_key)
    if e.change_timestamp and e.change_timestamp not in keys:
        keys.append(e.change_timestamp)
    return keys


def intake_query(e: Export) -> str:
    keys = _key_columns(e)
    key_list = ", ".join(keys)
    timestamps = [c.name for c in e.columns if c.type == "TIMESTAMP"]
    newest = (f"greatest({', '.join(f't.{c}' for c in timestamps)})" if len(timestamps) > 1
              else f"t.{timestamps[0]}" if timestamps else "CAST(NULL AS TIMESTAMP)")
    key_columns = ", ".join(f"t.{c}" for c in keys)
    null_keys = ", ".join(f"CAST(NULL AS {e.column(c).type}) AS {c}" for c in keys)
    contract = ", ".join(f"('{c}')" for c in e.column_names)
    since = f"(t._loaded_at > {WINDOW_PLACEHOLDER} OR {WINDOW_PLACEHOLDER} IS NULL)"
    since_rejects = f"(r.rejected_at > {WINDOW_PLACEHOLDER} OR {WINDOW_PLACEHOLDER} IS NULL)"
    return f"""(
    WITH window_rows AS (
        SELECT * FROM raw.{e.name} AS t WHERE {since}
    ),
    key_copies AS (
        SELECT {key_list}, count(*) AS _key_copies
        FROM raw.{e.name}
        WHERE ({key_list}) IN (SELECT {key_list} FROM window_rows)
        GROUP BY {key_list}
    ),
    missing_columns AS (
        SELECT string_agg(c.name, ', ' ORDER BY c.name) AS _missing_contract_columns
        FROM (VALUES {contract}) AS c(name)
        WHERE c.name NOT IN (
            SELECT column_name FROM information_schema.columns
            WHERE table_catalog = current_database() AND table_schema = 'raw' AND table_name = '{e.name}'
        )
    )
    SELECT {key_columns}, t._source_file, CAST(NULL AS BIGINT) AS _line, k._key_copies,
           CAST({newest} AS TIMESTAMP) AS _newest_timestamp, 'loaded' AS _intake_status,
           m._missing_contract_columns, t._loaded_at
    FROM window_rows AS t
    JOIN key_copies AS k USING ({key_list})
    CROSS JOIN missing_columns AS m
    UNION ALL
    SELECT {null_keys}, r.source_file AS _source_file, r.line AS _line, CAST(NULL AS BIGINT) AS _key_copies,
           CAST(NULL AS TIMESTAMP) AS _newest_timestamp,
           'rejected: ' || coalesce(r.column_name, '?') || ': ' || coalesce(r.error, '?') AS _intake_status,
           m._missing_contract_columns, r.rejected_at AS _loaded_at
    FROM raw._rejects AS r
    CROSS JOIN missing_columns AS m
    WHERE r.export = '{e.name}' AND {since_rejects}
)"""


def intake_target(gate: Gate, e: Export) -> GateTarget:
    keys = tuple(dict.fromkeys([*_key_columns(e), *gate.keys]))
    return GateTarget(
        gate=gate,
        asset=gate.asset.replace("{export}", e.name),
        relation=intake_query(e),
        keys=keys,
        export=e.name,
    )
