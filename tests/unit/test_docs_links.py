"""The repository carries its own pages: no tracked file points outside it, and every relative
Markdown link of the README and docs/ opens a file of the repository."""
from __future__ import annotations

import re
import subprocess

from pipelines.settings import PROJECT_ROOT


def _tracked() -> list[str]:
    out = subprocess.run(["git", "-C", str(PROJECT_ROOT), "ls-files"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


WORKING_NOTES = "../" + "shared"  # the team's notes beside the checkout (spelt so that this file does not match)


def test_no_tracked_file_links_to_the_shared_working_notes():
    offenders = []
    for name in _tracked():
        try:
            text = (PROJECT_ROOT / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        offenders += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if WORKING_NOTES in line]
    assert not offenders, f"links to {WORKING_NOTES} (not in the repository): {offenders}"


def test_relative_markdown_links_open_a_file_of_the_repository():
    broken = []
    for name in _tracked():
        if not name.endswith(".md"):
            continue
        path = PROJECT_ROOT / name
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"[a-z]+:|#", target):
                    continue  # a web address or an anchor of the same page
                if not (path.parent / target.split("#")[0]).exists():
                    broken.append(f"{name}:{n}: {target}")
    assert not broken, broken
