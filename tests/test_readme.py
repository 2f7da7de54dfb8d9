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
