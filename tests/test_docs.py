"""The README must stay true: every LMS_* setting the code reads is documented."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = ["lms_extension", "hub_config", "graders", "docker", "scripts", "Makefile"]


def settings_in_code() -> set[str]:
    found = set()
    for root in SOURCES:
        path = REPO / root
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.suffix in
                                                  {".py", ".sh", ".yaml", ".yml", ".example", ""}]
        for f in files:
            found |= set(re.findall(r"\bLMS_[A-Z0-9_]*[A-Z0-9]\b", f.read_text(errors="ignore")))
    return {name for name in found if not name.startswith("LMS_TEST")}


def test_every_setting_is_documented():
    readme = (REPO / "README.md").read_text()
    missing = sorted(name for name in settings_in_code() if name not in readme)
    assert not missing, f"settings missing from README.md: {missing}"


def test_readme_shows_the_two_commands():
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert (REPO / "docs" / "catalog.png").exists()
