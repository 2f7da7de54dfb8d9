"""The README never lies: its two set-up commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_first_two_blocks_are_install_and_test():
    run, test = _commands()
    assert run == "pip install . && nntutor lesson attention"
    assert "pytest" in test and "[test]" in test


def test_ci_runs_the_readme_test_command_as_written():
    _, test = _commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()


def _json_table() -> dict[str, set[str]]:
    """The README's JSON table: lesson -> the output names it lists (in backticks)."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| lesson | outputs |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = set(re.findall(r"`([^`]+)`", cells[1]))
    return rows


def test_the_json_table_names_every_lesson_and_its_outputs():
    """Every lesson in the registry has a row, and every output its default run writes is named."""
    from nntutor.catalog.lessonfile import load_all
    from nntutor.catalog.run import run_lesson

    rows = _json_table()
    for lesson in load_all():
        assert lesson.name in rows, f"README's JSON table has no row for {lesson.name}"
        missing = set(run_lesson(lesson).outputs) - rows[lesson.name]
        assert not missing, f"README's JSON table does not name {sorted(missing)} for {lesson.name}"
