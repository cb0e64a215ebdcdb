"""Code, tests and scripts say what a thing is for, never which tracker ticket produced it:
such numbers mean nothing to the next reader and go stale when the code moves."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("lms_extension", "graders", "hub_config", "tests", "stripe_test_server", "benchmarks", "scripts", "docker")
TICKET = re.compile(r"\bissues?\s*#?\d+", re.I)
SKIP_PARTS = {"__pycache__", "node_modules", "artifacts"}


def test_no_ticket_numbers_in_code_or_tests():
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if not path.is_file() or SKIP_PARTS & set(path.parts) or path.suffix in {".pyc", ".png", ".pdf", ".ttf"}:
                continue
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if TICKET.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not found, "\n".join(found)
