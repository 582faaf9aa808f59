"""Great Expectations on DuckDB: a read-only, autocommit SQLAlchemy dialect for validation.

GX 1.x has no DuckDB datasource and, through duckdb-engine, every metric fails with an
IndexError (GX issues #10738, #11579): GX fetches a result after its `with
engine.connect()` block has closed, and duckdb-engine's ROLLBACK on close discards the
pending result. This dialect subclasses duckdb-engine's and runs in autocommit (begin,
commit and rollback are no-ops), so the result survives the close. It is registered under
its own URL scheme and used only for read-only validation, never for writes:

    duckdb_gx_readonly:///:memory:<name>?attach_readonly=/path/kpi.duckdb

opens a private, named in-memory database (shared by the connections of this engine and
GX's, nobody else) and ATTACHes the warehouse READ_ONLY under its usual name (the file's
stem, the catalog dbt's views refer to), then makes it the default catalog. The in-memory
side (catalog `memory`) is where the runner materialises the rows of one gate's refresh
window, so GX's many metric queries scan that table instead of re-running the gate's query
each time. The warehouse itself cannot be written through these connections.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from duckdb_engine import Dialect as DuckDBEngineDialect
from sqlalchemy.dialects import registry

from ..sql import literal

SCHEME = "duckdb_gx_readonly"


class ReadOnlyAutocommitDuckDBDialect(DuckDBEngineDialect):
    """duckdb-engine without transactions: nothing to roll back on a read-only connection."""

    supports_statement_cache = False  # as duckdb-engine; said explicitly to silence SQLAlchemy's warning

    def do_begin(self, dbapi_connection) -> None:  # noqa: D401 - SQLAlchemy hook
        pass

    def do_commit(self, dbapi_connection) -> None:
        pass

    def do_rollback(self, dbapi_connection) -> None:
        pass

    def create_connect_args(self, url):
        args, opts = super().create_connect_args(url)
        attach = opts["url_config"].pop("attach_readonly", None)
        if attach:
            opts["attach_readonly"] = attach
        return args, opts

    def connect(self, *cargs, **cparams):
        attach = cparams.pop("attach_readonly", None)
        conn = super().connect(*cargs, **cparams)
        conn.execute("SET enable_progress_bar = false")  # no progress bars on the run's console
        if attach:
            path = Path(attach)
            conn.execute(f"ATTACH IF NOT EXISTS {literal(str(path))} AS {path.stem} (READ_ONLY)")
            conn.execute(f"USE {path.stem}")
        return conn


registry.register(SCHEME, __name__, ReadOnlyAutocommitDuckDBDialect.__name__)


def readonly_url(warehouse_path: Path, *, name: str = "sop_gates", memory_limit: str | None = None,
                 temp_directory: Path | None = None) -> str:
    """SQLAlchemy URL: a private named in-memory DuckDB with the warehouse attached read-only."""
    path = Path(warehouse_path).resolve()
    if not path.stem.isidentifier():
        raise ValueError(f"warehouse file name {path.name!r}: the stem must be a plain identifier (it names the catalog)")
    query = f"attach_readonly={quote(str(path))}"
    if memory_limit:
        query += f"&memory_limit={quote(memory_limit)}"
    if temp_directory:
        query += f"&temp_directory={quote(str(temp_directory))}"
    if not name.isidentifier():
        raise ValueError(f"in-memory database name {name!r} must be a plain identifier")
    return f"{SCHEME}:///:memory:{name}?{query}"
