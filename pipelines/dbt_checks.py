"""How a dbt test reads as a Dagster asset check: a description naming its rule and what a failure does.

dagster-dbt only copies `meta.description` into a check, and none of our tests sets it: the
UI would show a bare generated name (`accepted_range_fct_..._numerator__0`). The rule is
derived here from the test itself: the arguments of a built-in or our own generic test, the
leading `{#- ... -#}` comment of a singular test or of a generic test's file.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_LEADING_COMMENT = re.compile(r"^\s*(?:\{\{.*?\}\}\s*)*\{#-?(.*?)-?#\}", re.DOTALL)


def leading_comment(sql: str) -> str:
    """The Jinja comment a SQL file starts with (after any `{{ config(...) }}`), on one line; '' if none."""
    m = _LEADING_COMMENT.match(sql or "")
    return " ".join(m.group(1).split()) if m else ""


def _rule(kind: str, kw: Mapping[str, Any], column: str | None) -> str | None:
    col = f"`{column}`" if column else "the row"
    if kind == "unique":
        return f"{col} is unique."
    if kind == "not_null":
        return f"{col} is never NULL."
    if kind == "accepted_values":
        return f"{col} is one of {', '.join(repr(v) for v in kw.get('values', []))}."
    if kind == "accepted_range":
        lo, hi = kw.get("min_value"), kw.get("max_value")
        bounds = [f"≥ {lo}"] * (lo is not None) + [f"≤ {hi}"] * (hi is not None)
        return f"{col} is {' and '.join(bounds)} where not NULL."
    if kind == "relationships":
        return f"every {col} exists in {kw.get('to')} as `{kw.get('field')}`."
    if kind == "unique_combination":
        return f"one row per ({', '.join(kw.get('combination_of_columns', []))})."
    if kind == "expression_is_true":
        return f"`{kw.get('expression')}` holds on every row."
    return None


def describe_dbt_test(test: Mapping[str, Any], manifest: Mapping[str, Any], project_dir: Path) -> str:
    """One paragraph for the check of dbt test node `test`: its rule, its model, what a failure does."""
    own = (test.get("meta") or {}).get("description") or test.get("description")
    meta = test.get("test_metadata") or {}
    kind, kwargs = meta.get("name"), meta.get("kwargs") or {}
    rule = own or _rule(kind, kwargs, test.get("column_name"))
    if not rule:  # our own generic test (its file's comment) or a singular test (its own)
        macro = (manifest.get("macros") or {}).get(f"macro.{test.get('package_name')}.test_{kind}") if kind else None
        if macro:
            path = Path(project_dir) / macro["original_file_path"]
            rule = leading_comment(path.read_text()) if path.exists() else ""
        else:
            rule = leading_comment(test.get("raw_code", ""))
    rule = rule or "returns no rows."
    label = f"dbt test `{kind}`" if kind else "dbt singular test"
    severity = str((test.get("config") or {}).get("severity") or "error").lower()
    effect = ("Blocking (severity error): a failure stops the models downstream in the run."
              if severity == "error" else "Warning (severity warn): a failure is reported, nothing stops.")
    where = (test.get("config") or {}).get("where")
    scope = f" Rows where `{where}`." if where else ""
    return f"{label}: {rule}{scope} {effect}"
