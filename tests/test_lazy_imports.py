"""Start-up stays light: heavy libraries are imported only by the lessons that use them.

Each check runs the real command-line entry point (``nntutor.cli.main``) in a
fresh Python process and then looks at ``sys.modules``:

- ``sympy`` (about a second to import) belongs to the lessons that derive
  symbolically (:data:`SYMPY_LESSONS`); every other lesson, ``nntutor list`` and
  ``nntutor --help`` must not import it;
- ``pydantic`` is what recent Typer versions import to coerce option values;
  our options are plain strings, so it must never be imported
  (see :mod:`nntutor.cli.typer_compat`);
- ``numpy`` is not needed to list the lessons, show the course map, show help or a glossary term;
- ``sqlite3`` belongs to the quiz and ``nntutor progress``: a lesson run only
  appends a line to the study log (:mod:`nntutor.study.studylog`), and the map and
  the list open the database only once there are quiz answers in it.

Positive controls (``backprop`` does import sympy, ``progress`` sqlite3) show
the check can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Lessons that derive with sympy (nntutor.symbolic.derivatives); every other lesson must not import it.
SYMPY_LESSONS = frozenset({"activations", "backprop", "tiny-mlp"})
NEVER = ("pydantic",)

# Runs each argv in turn through the CLI entry point, recording after each which
# of the watched modules are loaded. Output goes to /dev/null; the exit code is kept.
PROBE = r"""
import contextlib, json, os, sys
watched = json.loads(sys.argv[1])
runs = json.loads(sys.argv[2])
from nntutor.cli import main
report = []
for argv in runs:
    sys.argv = ["nntutor", *argv]
    code = 0
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    report.append({"argv": argv, "code": code, "loaded": [m for m in watched if m in sys.modules]})
print(json.dumps(report))
"""


def probe(*runs: list[str], tmp_path: Path) -> list[dict]:
    """Run the commands in one fresh process; what was loaded after each."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NNTUTOR_HOME"] = str(tmp_path / "home")
    env["NO_COLOR"] = "1"
    env.pop("NNTUTOR_LESSONS", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["sympy", "numpy", "sqlite3", *NEVER]), json.dumps(list(runs))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def lesson_names() -> list[str]:
    return sorted(path.stem for path in (REPO / "lessons").glob("*.toml"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [[], ["list"], ["--help"], ["explain", "d_k"], ["explain"], ["lesson", "neuron"], ["lesson", "softmax"], ["lesson", "attention"]],
    ids=lambda argv: " ".join(argv) or "the map",
)
def test_no_sympy_and_no_pydantic(argv, tmp_path):
    (result,) = probe(argv, tmp_path=tmp_path)
    assert result["code"] == 0
    unwanted = {"sympy", "sqlite3", *NEVER} | ({"numpy"} if argv[:1] != ["lesson"] else set())
    loaded = set(result["loaded"]) & unwanted
    assert not loaded, f"nntutor {' '.join(argv)} imported {sorted(loaded)}"


@pytest.mark.slow
def test_no_lesson_outside_the_symbolic_ones_imports_sympy(tmp_path):
    others = [name for name in lesson_names() if name not in SYMPY_LESSONS]
    assert {"neuron", "softmax", "attention"} <= set(others)
    # One process for all: nothing may have loaded sympy after any of them.
    for result in probe(*(["lesson", name] for name in others), tmp_path=tmp_path):
        assert result["code"] == 0, result
        loaded = set(result["loaded"]) & {"sympy", "sqlite3", *NEVER}
        assert not loaded, f"nntutor {' '.join(result['argv'])} imported {sorted(loaded)}"


@pytest.mark.slow
def test_the_check_can_fail_backprop_does_import_sympy(tmp_path):
    if "backprop" not in lesson_names():
        pytest.skip("no backprop lesson in this checkout")
    (result,) = probe(["lesson", "backprop"], tmp_path=tmp_path)
    assert result["code"] == 0
    assert "sympy" in result["loaded"]
    assert "numpy" in result["loaded"]
    assert "pydantic" not in result["loaded"]
    assert "sqlite3" not in result["loaded"]


@pytest.mark.slow
def test_the_check_can_fail_progress_does_import_sqlite(tmp_path):
    (result,) = probe(["progress"], tmp_path=tmp_path)
    assert result["code"] == 0
    assert "sqlite3" in result["loaded"]
