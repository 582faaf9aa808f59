"""A dbt process left running by a failed dbt step is interrupted (then killed), so it frees the warehouse lock."""
import subprocess
import sys

from pipelines.transform import stop_dbt as _stop


def test_stop_interrupts_a_running_process_like_ctrl_c():
    # The child reports the KeyboardInterrupt it gets, as dbt does when it rolls back on SIGINT. It
    # takes Ctrl-C's default handling explicitly: a child inherits an ignored or blocked SIGINT, and
    # earlier tests in the same pytest process (Spark, Celery) can leave SIGINT that way (CI: -9, not 130).
    code = ("import signal, time\n"
            "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "try:\n    print('ready', flush=True); time.sleep(60)\nexcept KeyboardInterrupt:\n    raise SystemExit(130)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    _stop(proc, grace_seconds=10)
    assert proc.returncode == 130


def test_stop_kills_a_process_that_ignores_the_interrupt():
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    _stop(proc, grace_seconds=1)
    assert proc.returncode == -9


def test_stop_leaves_a_finished_process_alone():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    _stop(proc)
    assert proc.returncode == 0
