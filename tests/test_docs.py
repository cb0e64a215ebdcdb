"""The README must stay true: every LMS_* setting the code reads is documented."""
import re
from pathlib import Path

from lms_extension.config import ENV, LMSConfig

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


def readme_configuration_table() -> set[str]:
    """Variables named in the first column of README's configuration table."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_configuration_variable_is_in_the_readme_table():
    missing = sorted(set(ENV.values()) - readme_configuration_table())
    assert not missing, f"LMSConfig settings missing from README.md's configuration table: {missing}"


def test_readme_defaults_are_the_settings_defaults():
    """A default the README spells out as a literal is the trait's default."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    setting = {var: name for name, var in ENV.items()}
    checked = 0
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if not line.startswith("| `") or len(cells) < 2:
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        literals = re.findall(r"`([^`]*)`", cells[1])
        if not re.fullmatch(r"`[^`]*`(, `[^`]*`)*", cells[1]) or len(literals) != len(names):
            continue  # "unset", "generated", prose: nothing to compare
        for var, text in zip(names, literals):
            trait = LMSConfig.class_traits().get(setting.get(var, ""))
            if trait is None or trait.default_value == "":
                continue  # computed at start (from data_dir, port, ...)
            default = trait.default_value
            if isinstance(default, str) and default.startswith(str(REPO)):
                assert Path(default).relative_to(REPO) == Path(text), var  # a folder in the checkout
            else:
                assert trait.from_string(text) == default, f"{var}: README says {text}, the code {default!r}"
            checked += 1
    assert checked >= 30


def test_every_setting_has_help_and_one_variable():
    traits = LMSConfig.class_own_traits(config=True)
    assert not [name for name, trait in traits.items() if not trait.help]
    assert set(ENV) <= set(traits), "ENV names a setting LMSConfig does not have"
    assert len(set(ENV.values())) == len(ENV), "two settings share a variable"
    # settings without a variable are set in the config file only
    assert set(traits) - set(ENV) == {"hub_prefix", "check_schema"}


def test_readme_lists_every_lms_command():
    from lms_extension.cli import build_parser

    readme = (REPO / "README.md").read_text()
    commands = build_parser()._subparsers._group_actions[0].choices
    assert "lms config show" in readme
    for name in commands:
        if name != "stripe-test-server":
            assert f"lms {name}" in readme, name


def test_readme_shows_the_two_commands():
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert (REPO / "docs" / "catalog.png").exists()
