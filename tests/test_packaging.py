"""The wheel ships the lessons and the trained model: build it, install it elsewhere, run it from
another folder (list, a lesson, lesson-file, which prints a shipped lesson file, and the model)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_lessons_and_runs(tmp_path):
    pytest.importorskip("build")
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0 and "No module named" in built.stderr + built.stdout:
        pytest.skip("hatchling is not installed for --no-isolation builds")
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(dist.glob("nntutor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("nntutor/lessons/")}
    expected = {p.name for p in (ROOT / "lessons").glob("*.toml")}
    assert expected and expected <= shipped
    assert "nntutor/catalog/glossary.toml" in names  # `nntutor explain` reads it from the package
    assert "nntutor/models/data/tiny.npz" in names  # the shipped model: lessons run with no training first
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", str(target), str(wheel)],
        check=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), NO_COLOR="1")
    env.pop("NNTUTOR_LESSONS", None)
    where = subprocess.run(
        [sys.executable, "-c", "import nntutor, nntutor.catalog.lessonfile as l; print(nntutor.__file__); print(l.builtin_lessons_dir())"],
        capture_output=True, text=True, cwd=elsewhere, env=env, check=True,
    ).stdout.splitlines()
    assert where[0].startswith(str(target)) and where[1] == str(target / "nntutor" / "lessons")
    model = subprocess.run(
        [sys.executable, "-c", "from nntutor.models.model import load_model, shipped_path; m = load_model('tiny'); print(shipped_path()); print(m.vocab_size)"],
        capture_output=True, text=True, cwd=elsewhere, env=env,
    )
    assert model.returncode == 0, model.stderr
    assert model.stdout.splitlines()[0] == str(target / "nntutor" / "models" / "data" / "tiny.npz")
    listed = subprocess.run([sys.executable, "-m", "nntutor", "list"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    for name in expected:
        assert Path(name).stem in listed.stdout
    lesson = subprocess.run(
        [sys.executable, "-m", "nntutor", "lesson", "attention", "--causal"], capture_output=True, text=True, cwd=elsewhere, env=env
    )
    assert lesson.returncode == 0, lesson.stderr
    assert "attention weights A" in lesson.stdout
    explained = subprocess.run([sys.executable, "-m", "nntutor", "explain", "d_k"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert explained.returncode == 0 and explained.stdout.startswith("d_k"), explained.stderr
    # a pip user's way to start a variant: the shipped file, byte for byte
    shipped_file = subprocess.run(
        [sys.executable, "-m", "nntutor", "lesson-file", "attention"], capture_output=True, cwd=elsewhere, env=env
    )
    assert shipped_file.returncode == 0, shipped_file.stderr
    assert shipped_file.stdout == (ROOT / "lessons" / "attention.toml").read_bytes()
