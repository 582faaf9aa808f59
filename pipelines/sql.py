"""The one place a Python text becomes a SQL string literal."""
from __future__ import annotations


def literal(text: str) -> str:
    """A SQL string literal, for what DuckDB takes no bound parameter for (ATTACH and COPY paths, the
    loader's own messages inside SQL, the demo generator's vocabularies). Values from landing files are
    bound as parameters, never quoted with this."""
    return "'" + text.replace("'", "''") + "'"
