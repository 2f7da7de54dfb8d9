"""The output policy (nntutor.render.output): formats, destinations, colour and width."""

import io

import pytest
from rich.text import Text

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.errors import InputError, OutputError
from nntutor.render import output
from nntutor.render.compare import Comparison
from nntutor.render.json import render_json
from nntutor.render.markdown import render_markdown
from nntutor.render.terminal import render_text


def test_every_format_has_a_renderer_for_lessons_and_comparisons():
    assert tuple(output.RENDERERS) == output.FORMATS
    assert tuple(output.COMPARISON_RENDERERS) == output.FORMATS
    assert set(output.EXTENSIONS.values()) <= set(output.FORMATS)


@pytest.mark.parametrize(
    ("fmt", "path", "expected"),
    [(None, None, "text"), (None, "a.md", "markdown"), (None, "a.JSON", "json"), (None, "a.htm", "html"), ("svg", "a.txt", "svg")],
)
def test_the_format_comes_from_the_flag_else_the_extension(fmt, path, expected):
    assert output.choose_format(fmt, path) == expected


def test_unknown_formats_and_unwritable_paths_are_refused_before_any_work(tmp_path):
    with pytest.raises(InputError, match="'pdf' is not one of"):
        output.prepare("pdf", None)
    with pytest.raises(InputError, match="cannot tell the format from '.pdf'"):
        output.prepare(None, str(tmp_path / "x.pdf"))
    with pytest.raises(OutputError, match="does not exist"):
        output.prepare(None, str(tmp_path / "missing" / "x.md"))
    assert output.prepare(None, str(tmp_path / "x.md")) == "markdown"


def test_piped_text_is_plain_at_the_columns_width(monkeypatch, capsys):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    trace = run_lesson(load_lesson("attention"))
    output.deliver(trace)
    assert capsys.readouterr().out == render_text(trace, width=120)
    output.deliver(trace, limit=0)  # --full: matrices as wide as they are
    assert capsys.readouterr().out == render_text(trace, width=output.FULL_WIDTH, limit=0)


def test_force_color_styles_piped_text(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    output.deliver(run_lesson(load_lesson("neuron")))
    assert "\x1b[" in capsys.readouterr().out


def test_documents_go_to_stdout_or_a_file_with_a_notice(tmp_path, capsys):
    trace = run_lesson(load_lesson("softmax"))
    output.deliver(trace, format="json")
    assert capsys.readouterr().out == render_json(trace)
    target = tmp_path / "softmax.md"
    output.deliver(trace, format="markdown", path=str(target), precision=2)
    assert target.read_text(encoding="utf-8") == render_markdown(trace, precision=2)
    assert capsys.readouterr().err.strip() == f"wrote {target} (markdown)"


def test_text_files_are_100_columns_and_plain_whatever_the_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("FORCE_COLOR", "1")
    trace = run_lesson(load_lesson("layer"))
    target = tmp_path / "layer.txt"
    output.deliver(trace, path=str(target))
    assert target.read_text(encoding="utf-8") == render_text(trace, width=100)


def test_a_comparison_is_delivered_as_json_or_as_text(capsys):
    lesson = load_lesson("softmax")
    comparison = Comparison(run_lesson(lesson), run_lesson(lesson, {"temperature": "5"}), "--temperature 5")
    output.deliver(comparison, format="json")
    assert '"vs": "--temperature 5"' in capsys.readouterr().out
    output.deliver(comparison)
    text = capsys.readouterr().out
    assert "Compare: as given  vs  with --temperature 5" in text
    assert text.startswith("Compare:") and "Step 1" not in text  # the first run is not repeated in full


def test_emit_strips_trailing_spaces_and_soft_wrap_never_wraps(monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    stream = io.StringIO()
    output.emit(Text("one two three four"), stream=stream, width=40, soft_wrap=True)
    output.emit(Text("one two three four"), stream=stream, width=40)
    long = "word " * 20
    output.emit(Text(long), stream=stream, width=40, soft_wrap=True)
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["one two three four", "one two three four"]
    assert lines[2] == long.rstrip()
    assert all(line == line.rstrip() for line in lines)
