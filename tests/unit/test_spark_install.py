"""The Spark dependencies must not break the rest of the pipeline's processes."""
from __future__ import annotations

import subprocess
import sys


def test_great_expectations_imports_in_a_process_without_a_main_file():
    # Dagster's step processes (and `python -c`) have a __main__ without __file__: pyspark.sql.connect,
    # which GX imports when pyspark is installed, then exits the process (status 0) unless the
    # pyspark[connect] dependencies are installed. The dbt step died silently in every run.
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", "import great_expectations; print('imported')"],
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().endswith("imported"), (proc.returncode, proc.stdout[-500:], proc.stderr[-1500:])
