"""Every lesson's every flag, fed malformed values: exit 2, one line naming the flag, no traceback.

The cases are generated from the lesson files, so a new lesson is covered without
touching this file. Values that are always wrong must be refused; values that
may be legal for some inputs (0, -1, a single number) must either run or be
refused cleanly.

Each lesson's own refusals (rules between its flags, its sizes, its messages) are data
in its test file, ``BAD_INPUTS = [(flags, flag, fragment), ...]`` in
``tests/test_<builder>.py`` (a case may be a ``pytest.param`` of one, to mark it slow);
every case is checked here twice, in-process through :func:`~nntutor.catalog.run.run_lesson`
and through the command line.
"""

from __future__ import annotations

import importlib
import time

import pytest
from typer.testing import CliRunner

from nntutor import cli
from nntutor.catalog.lessonfile import load_all
from nntutor.catalog.run import run_lesson
from nntutor.errors import InputError
from tests.helpers import assert_refused, flags_to_argv

NUMERIC = ("scalar", "integer", "vector", "matrix", "array")
LONG = "1," * 50_000  # a 100,000-character value

ALWAYS_BAD = {
    "numeric": ["", ",", ";;", "nan", "NaN", "inf", "-inf", "1e308", "1e-320", "abc", "١٢", "\u22121", "0x10", "1_000", LONG, "[1, null]", "{}", "[[1,2],[3]]"],
    "integer": ["1.5", "1e3", "99999999999999", "", "abc", "٣"],
    "choice": ["definitely-not-a-choice", "", "RELU?"],
    "labels": ["", ",", "a,,b", " , "],
    "text": [LONG + "x", "a\x00b", "a\x1bb"],
}
MAYBE_BAD = {
    "numeric": ["0", "-1", "1", "1;2", "[[1]]", "1e-300", "-0"],
    "integer": ["0", "-1", "-100000", "100000000"],
    "labels": ["x", "🙂,漢字,é"],
    "text": ["", "   ", "🙂 漢字 é", "[i]"],
}

LESSONS = load_all()

# Refused, but only after seconds of work: run with the slow tests, not in the inner loop.
SLOW: set[tuple[str, str, str]] = set()


def _cases():
    for lesson in LESSONS:
        for spec in lesson.inputs:
            if spec.kind == "flag":
                continue
            if spec.kind == "path":
                continue  # covered by test_bad_files below
            family = "numeric" if spec.kind in ("scalar", "vector", "matrix", "array") else spec.kind
            for value in ALWAYS_BAD.get(family, []):
                yield pytest.param(lesson.name, spec.flag, value, True, id=f"{lesson.name}{spec.flag}={value[:12]!r}")
            for value in MAYBE_BAD.get(family, []):
                marks = [pytest.mark.slow] if (lesson.name, spec.flag, value) in SLOW else []
                yield pytest.param(lesson.name, spec.flag, value, False, id=f"{lesson.name}{spec.flag}~{value[:12]!r}", marks=marks)


def _run(args, monkeypatch, tmp_path):
    monkeypatch.setenv("NNTUTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("NNTUTOR_LESSONS", raising=False)
    started = time.perf_counter()
    result = CliRunner().invoke(cli.make_app(), args)
    return result, time.perf_counter() - started


def _assert_clean_refusal(result, flag: str | None):
    line = assert_refused(result)
    if flag is not None:
        assert flag in line or "--" in line, line


@pytest.mark.parametrize(("lesson", "flag", "value", "always_bad"), list(_cases()))
def test_malformed_flag_values(lesson, flag, value, always_bad, monkeypatch, tmp_path):
    result, seconds = _run(["lesson", lesson, flag, value, "--format", "json", "--no-plot"], monkeypatch, tmp_path)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    if always_bad:
        _assert_clean_refusal(result, flag)
        assert flag in result.stderr
    else:
        assert result.exit_code in (0, 2), (result.exit_code, result.stderr[-500:])
        if result.exit_code == 2:
            _assert_clean_refusal(result, flag)
        else:
            assert "nan" not in result.stdout.split('"outputs"')[-1].lower() or lesson in ("embedding",)
    assert seconds < 20, f"{lesson} {flag}={value[:20]!r} took {seconds:.1f} s"


def _path_inputs():
    for lesson in LESSONS:
        for spec in lesson.inputs:
            if spec.kind == "path":
                yield pytest.param(lesson.name, spec.flag, id=f"{lesson.name}{spec.flag}")


@pytest.mark.parametrize(("lesson", "flag"), list(_path_inputs()))
def test_bad_files(lesson, flag, monkeypatch, tmp_path):
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    for path in (tmp_path / "missing.txt", tmp_path, binary, latin):
        result, _ = _run(["lesson", lesson, flag, str(path)], monkeypatch, tmp_path)
        _assert_clean_refusal(result, flag)
        assert flag in result.stderr


@pytest.mark.parametrize("lesson", [lesson.name for lesson in LESSONS])
def test_every_lesson_runs_with_defaults_in_every_format(lesson, monkeypatch, tmp_path):
    for fmt in ("text", "json", "markdown"):
        result, _ = _run(["lesson", lesson, "--format", fmt, "--no-plot"], monkeypatch, tmp_path)
        assert result.exit_code == 0, (fmt, result.stderr[-1000:], repr(result.exception))


# Sizes and rates that are numbers but never make sense: refused wherever a lesson has them.
NAMED_BAD = {
    "heads": ["0", "-1"],
    "seq-len": ["0", "-1", "100000"],
    "d-model": ["0", "-1"],
    "temperature": ["0", "-1", "-0.5"],
    "lr": ["0", "-0.1"],
    "merges": ["-1", "100000000000"],
    "layers": ["0", "-2"],
    "epochs": ["0", "-1"],
    "steps": ["-1"],
    "batch-size": ["0", "-4"],
    "hidden": ["0", "-1"],
    "positions": ["0", "-3"],
    "top-k": ["0", "-1"],
    "top-p": ["0", "-0.1", "1.5"],
    "eps": ["-1"],
    "base": ["0", "-10", "1"],
    "d-ff": ["0", "-1"],
    "expansion": ["0", "-1"],
    "min-frequency": ["0", "-1"],
    "top": ["-1"],
    "count": ["0"],
}


def _named_cases():
    for lesson in LESSONS:
        for spec in lesson.inputs:
            for value in NAMED_BAD.get(spec.name, []):
                yield pytest.param(lesson.name, spec.flag, value, id=f"{lesson.name}{spec.flag}={value}")


@pytest.mark.parametrize(("lesson", "flag", "value"), list(_named_cases()))
def test_nonsense_sizes_and_rates_are_refused(lesson, flag, value, monkeypatch, tmp_path):
    result, _ = _run(["lesson", lesson, flag, value, "--format", "json", "--no-plot"], monkeypatch, tmp_path)
    _assert_clean_refusal(result, flag)
    assert flag in result.stderr


# --------------------------------------------------------------------------- each lesson's BAD_INPUTS


def _test_module_name(lesson) -> str:
    return "tests.test_" + lesson.builder.replace("-", "_")


def _short(value: str) -> str:
    if not value.strip():
        return repr(value)
    return value if len(value) <= 24 else value[:20] + "..."


def _bad_inputs():
    """(lesson, flags, flag, fragment) from every lesson's test file that declares BAD_INPUTS."""
    for lesson in LESSONS:
        name = _test_module_name(lesson)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue  # a lesson without a test file of its own
        except pytest.skip.Exception as skipped:  # e.g. its oracle is not installed
            yield pytest.param(lesson, {}, "", "", id=f"{lesson.name} (skipped)", marks=pytest.mark.skip(reason=f"{name}: {skipped}"))
            continue
        seen: dict[str, int] = {}
        for case in getattr(module, "BAD_INPUTS", ()):
            # a case is a tuple, or a pytest.param of one (to mark it slow, say)
            (flags, flag, fragment), marks = getattr(case, "values", case), getattr(case, "marks", ())
            shown = " ".join(_short(value) for value in flags_to_argv(flags))
            case_id = f"{lesson.name} {shown}"
            seen[case_id] = seen.get(case_id, 0) + 1
            if seen[case_id] > 1:
                case_id += f" #{seen[case_id]}"
            yield pytest.param(lesson, flags, flag, fragment, id=case_id, marks=marks)


LESSON_BAD_INPUTS = list(_bad_inputs())


def _assert_names(text: str, flag: str, fragment: str) -> None:
    """``text`` is ``"--flag: message"``; the fragment is in the message, or, when it starts
    with ``"--flag: "`` itself, the text starts with it."""
    prefix = f"{flag}: "
    assert text.startswith(prefix), text
    if fragment.startswith(prefix):
        assert text.startswith(fragment), text
    else:
        assert fragment in text[len(prefix):], text


def _check_inputs_exist(lesson, flags) -> dict:
    names = {spec.name for spec in lesson.inputs}
    unknown = sorted({key.replace("_", "-") for key in flags} - names)
    assert not unknown, f"BAD_INPUTS of {lesson.name} names inputs it does not have: {unknown}"
    return {key.replace("_", "-"): value for key, value in flags.items()}


@pytest.mark.parametrize(("lesson", "flags", "flag", "fragment"), LESSON_BAD_INPUTS)
def test_bad_inputs_name_the_flag(lesson, flags, flag, fragment):
    raw = _check_inputs_exist(lesson, flags)
    with pytest.raises(InputError) as info:
        run_lesson(lesson, raw)
    assert info.value.flag == flag, str(info.value)
    _assert_names(f"{info.value.flag}: {info.value.message}", flag, fragment)


@pytest.mark.parametrize(("lesson", "flags", "flag", "fragment"), LESSON_BAD_INPUTS)
def test_bad_inputs_through_the_cli_exit_2_with_one_line(lesson, flags, flag, fragment, run_cli):
    _check_inputs_exist(lesson, flags)
    line = assert_refused(run_cli("lesson", lesson.name, *flags_to_argv(flags)))
    assert line.startswith("error: "), line
    _assert_names(line.removeprefix("error: "), flag, fragment)


def _boolean_flags():
    for lesson in LESSONS:
        for spec in lesson.inputs:
            if spec.kind == "flag":
                yield pytest.param(lesson.name, spec.flag, id=f"{lesson.name}{spec.flag}")


@pytest.mark.parametrize(("lesson", "flag"), list(_boolean_flags()))
def test_boolean_flags_take_no_value(lesson, flag, run_cli):
    line = assert_refused(run_cli("lesson", lesson, f"{flag}=yes"), flag, "does not take a value")
    assert line.startswith("error: "), line


# --------------------------------------------------------------------------- a size mismatch names the flag typed


def _resized(value) -> list[str]:
    """A default typed back with another size: an entry (a row, a column) fewer, and one more."""
    import numpy as np

    if isinstance(value, tuple):  # labels
        names = list(value)
        return [",".join(names[:-1]), ",".join([*names, "extra"])][len(names) == 1:]
    a = np.asarray(value, dtype=float)
    if a.ndim == 1:
        variants = [a[:-1], np.append(a, 0.5)][a.size == 1:]
        return [",".join(f"{x:g}" for x in v) for v in variants]
    variants = [np.vstack([a, a[-1:]]), np.hstack([a, a[:, -1:]])]
    variants += [a[:-1]] if a.shape[0] > 1 else []
    variants += [a[:, :-1]] if a.shape[1] > 1 else []
    return [";".join(",".join(f"{x:g}" for x in row) for row in v) for v in variants]


def _resized_cases():
    for lesson in LESSONS:
        defaults = lesson.defaults()
        # each value of a --kind reads other inputs (loss's --kind mse, positional-encoding's rope)
        modes = [{}] + [{"kind": choice} for spec in lesson.inputs if spec.name == "kind" for choice in spec.choices]
        for mode in modes:
            for spec in lesson.inputs:
                if spec.name in mode or spec.kind not in ("vector", "matrix", "labels") or defaults[spec.name] is None:
                    continue
                for value in _resized(defaults[spec.name]):
                    shown = "".join(f" --{k} {v}" for k, v in mode.items())
                    yield pytest.param(lesson, {**mode, spec.name: value}, spec.flag, id=f"{lesson.name}{shown} {spec.flag}={_short(value)}")


@pytest.mark.parametrize(("lesson", "raw", "flag"), list(_resized_cases()))
def test_a_resized_input_is_named_not_the_default_it_no_longer_fits(lesson, raw, flag):
    # `nntutor lesson neuron --x 1,2` names --x (and says to pass --w too), never the --w the learner did not type
    try:
        run_lesson(lesson, raw)
    except InputError as exc:
        assert exc.flag == flag, f"{lesson.name} {raw}: the error names {exc.flag}, not the resized {flag}: {exc}"
