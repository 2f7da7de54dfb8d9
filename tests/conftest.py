"""Shared fixtures: the PyTorch oracle and a CLI runner.

The oracle is a test-only dependency (``pip install -e '.[oracle]'``). Where it
is absent its tests are skipped with a visible reason, unless
``NNTUTOR_REQUIRE_ORACLE=1`` (set by ``.ci/run``), where its absence fails.
"""

from __future__ import annotations

import os

import pytest

# Not a test module: the atheris harness runs on its own (see its docstring).
collect_ignore = ["fuzz_atheris.py"]


@pytest.fixture(autouse=True)
def _progress_in_tmp(monkeypatch, tmp_path_factory):
    """Every test (and every subprocess it starts) keeps progress in a temporary folder,
    never in the user's real data folder: ``nntutor lesson`` records what was studied."""
    monkeypatch.setenv("NNTUTOR_HOME", str(tmp_path_factory.mktemp("nntutor-home")))


@pytest.fixture(scope="session")
def torch():
    """PyTorch in float64, or a skip (a failure when the oracle is required)."""
    try:
        import torch as torch_module
    except ImportError:
        if os.environ.get("NNTUTOR_REQUIRE_ORACLE") == "1":
            pytest.fail("NNTUTOR_REQUIRE_ORACLE=1 but PyTorch is not installed (pip install -e '.[oracle]')")
        pytest.skip("PyTorch oracle not installed: pip install -e '.[oracle]' to run the oracle tests")
    torch_module.set_default_dtype(torch_module.float64)
    return torch_module


@pytest.fixture
def run_cli(monkeypatch, tmp_path_factory):
    """Run ``nntutor ARGS...`` in-process with Typer's CliRunner; returns the Result.

    ``result.exit_code``, ``result.stdout`` and ``result.stderr`` are separate.
    The progress store goes to a temporary folder of its own (``$NNTUTOR_HOME``).
    """
    from typer.testing import CliRunner

    from nntutor import cli

    monkeypatch.setenv("NNTUTOR_HOME", str(tmp_path_factory.mktemp("home")))  # not in tmp_path: tests list it
    monkeypatch.delenv("NNTUTOR_LESSONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")

    def invoke(*args: str, input: str | None = None):
        argv = [str(a) for a in args]
        return CliRunner().invoke(cli.make_app(argv), argv, input=input)

    return invoke
