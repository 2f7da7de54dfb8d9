"""The Typer compatibility module still does its job with the installed Typer.

:mod:`nntutor.cli.typer_compat` uses Typer's private ``typer._coercion`` to keep
pydantic out of start-up. If a Typer release changes those internals, the bypass
silently stops applying and every start gets 0.2 s slower; these tests fail
(they never skip) so that the pin in ``pyproject.toml`` is not moved unchecked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from nntutor.cli import typer_compat

ROOT = Path(__file__).resolve().parent.parent
UPDATE = (
    f"with Typer {typer.__version__}: check nntutor/cli/typer_compat.py against this Typer "
    "(or keep typer pinned to a tested version in pyproject.toml)"
)


def _plain_params(command) -> list:
    """The command's ``str`` options and flags (``--help`` included), after ``get_params``."""
    ctx = typer.Context(command, info_name=command.name)
    params = command.get_params(ctx)
    plain = [p for p in params if getattr(getattr(p, "type_descriptor", None), "annotation", None) in (str, bool)]
    assert plain, f"no str or bool parameters found on {command.name!r} {UPDATE}"
    return plain


def test_the_bypass_is_active_with_the_installed_typer():
    assert typer_compat.ACTIVE, f"typer._coercion is gone {UPDATE}"


def test_every_plain_option_of_a_lesson_and_of_the_root_passes_through():
    from nntutor.catalog.lessonfile import load_lesson
    from nntutor.cli.app import lesson_command, make_app

    for command in (lesson_command(load_lesson("attention")), typer.main.get_command(make_app())):
        missed = [p.name for p in _plain_params(command) if not typer_compat.passes_through(p)]
        assert not missed, f"{command.name}: {missed} would be coerced by pydantic {UPDATE}"


def test_a_passed_through_option_keeps_its_value():
    from nntutor.catalog.lessonfile import load_lesson
    from nntutor.cli.app import lesson_command

    command = lesson_command(load_lesson("neuron"))
    ctx = typer.Context(command, info_name=command.name)
    (x,) = [p for p in command.get_params(ctx) if p.name == "in_x"]
    assert x.process_value(ctx, "1,0;0,1") == "1,0;0,1"


@pytest.mark.slow
def test_a_lesson_with_options_given_does_not_import_pydantic():
    # --help alone would not tell: Typer skips coercing a flag that is already a bool
    probe = (
        "import contextlib, os, sys\n"
        "sys.argv = ['nntutor', 'lesson', 'neuron', '--x', '1,2,3', '--format', 'json']\n"
        "from nntutor.cli import main\n"
        "with open(os.devnull, 'w') as sink, contextlib.redirect_stdout(sink):\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code\n"
        "print(code, 'pydantic' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("NNTUTOR_LESSONS", None)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "False"], f"nntutor lesson neuron --x 1,2,3 imported pydantic {UPDATE}"


def test_only_typer_compat_touches_typer_internals():
    # the identifier itself, so "typer._coercion", "from typer import _coercion" and
    # import_module("typer._coercion") are all caught (``_plain_coercion`` is not)
    pattern = re.compile(r"\b_coercion\b")
    allowed = ROOT / "nntutor" / "cli" / "typer_compat.py"
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("nntutor", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != allowed and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"only nntutor/cli/typer_compat.py may use typer._coercion: {offenders}"


HELP_SCREENS = [[], ["lesson"], ["lesson", "attention"], ["lesson", "neuron"], ["list"], ["check"], ["lesson-file"], ["quiz"], ["progress"], ["train"], ["export"]]


@pytest.mark.parametrize("command", HELP_SCREENS, ids=lambda argv: " ".join(argv) or "nntutor")
def test_help_shows_no_python_type_names(run_cli, command):
    # Typer 0.29 labels flags <bool> and arguments <str>, <list[str]>: plain_help removes them
    result = run_cli(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Show this message and exit." in result.stdout
    types = re.findall(r"<[a-z]+(?:\[[^\]>]*\])?>", result.stdout)
    assert types == [], f"type labels {types} in the help of {command} {UPDATE}"
