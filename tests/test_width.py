"""Every screen fits its width without cutting a number or breaking a word.

Every lesson (from the registry, so a new lesson is covered without a line here) is
drawn at 60, 80 and 120 columns, with a few of its quiz questions and answers. A
number or a word in the narrow drawing must be one of the whole words of the same
screen drawn unbounded: a cut number (``3.36…``), a word broken across two lines
(``softm`` / ``ax``) or a title cut short (``corpu…``) is not one. The 80-column
run is in the inner loop; 60 and 120 are marked slow.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from rich.cells import cell_len
from rich.text import Text

from nntutor.catalog.lessonfile import load_all, load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.quiz import questions as quiz
from nntutor.quiz import session
from nntutor.render import quiz_view
from nntutor.render.output import plain_text
from nntutor.render.terminal import Heading, render_text
from nntutor.trace import Step, Table, Trace, Value

LESSONS = load_all()
NAMES = [lesson.name for lesson in LESSONS]
UNBOUNDED = 10_000
RULES = set("─━═│┃")
GAPS = {"…", "⋮", "⋱"}
NOTE = "elided for display"  # the elision note counts what it left out, which depends on the width
CUT_NUMBER = re.compile(r"(?:^|[\s(\[,=])-?[\d.]+(?:e[-+]?\d*)?…(?=$|[\s,)\]])|(?:^|\s)-…(?=$|\s)")


def _words(text: str) -> list[str]:
    return [word for line in text.splitlines() if NOTE not in line for word in line.split() if not set(word) <= RULES]


def _piece_of_numbers(word: str, whole: set[str]) -> bool:
    """A quoted matrix in a command is broken after a ``;`` or a ``,`` (it still runs, see below)."""
    return bool(re.fullmatch(r"'?[-\d.,;e]+'?", word)) and any(word.strip("'") in w for w in whole if "'" in w)


def assert_fits(narrow: str, wide: str, width: int, where: str) -> None:
    """No line wider than ``width``, no cut number, every word a whole word of the unbounded drawing."""
    too_wide = [line for line in narrow.splitlines() if cell_len(line) > width]
    assert not too_wide, (where, too_wide[:3])
    cut = [line for line in narrow.splitlines() if CUT_NUMBER.search(line)]
    assert not cut, (where, cut[:3])
    whole = set(_words(wide)) | GAPS | {"\\"}  # a command goes on after a backslash
    broken = sorted({word for word in _words(narrow) if word not in whole and not _piece_of_numbers(word, whole)})
    assert not broken, (where, broken[:10])


@pytest.fixture
def no_plots(monkeypatch):
    """Plots are drawn to the width (another width, other dots): here each is one fixed line."""
    from nntutor.render import terminal

    monkeypatch.setattr(terminal.PlotView, "__rich_console__", lambda self, console, options: iter([Text("[a plot]")]))


def _lesson_screens(name: str, width: int) -> None:
    lesson = LESSONS[NAMES.index(name)]
    trace = run_lesson(lesson)
    wide = render_text(trace, width=UNBOUNDED, plots=False)
    assert not CUT_NUMBER.search(wide), name
    assert_fits(render_text(trace, width=width, plots=False), wide, width, f"{name} at {width}")
    for question in quiz.make_quiz([lesson], count=3, seed=1):
        shown = [quiz_view.question_renderable(question, 1, 3)]
        for line in ("1000000", "show"):
            shown.append(quiz_view.reply_renderable(session.Attempt(question).respond(line), 4, question))
        where = f"{name} quiz {question.item} at {width}"
        assert_fits(plain_text(shown, width), plain_text(shown, UNBOUNDED), width, where)


@pytest.mark.parametrize("name", NAMES)
def test_every_lesson_and_its_quiz_fit_80_columns(name, no_plots):
    _lesson_screens(name, 80)


@pytest.mark.slow
@pytest.mark.parametrize("width", [60, 120])
@pytest.mark.parametrize("name", NAMES)
def test_every_lesson_and_its_quiz_fit_60_and_120_columns(name, width, no_plots):
    _lesson_screens(name, width)


# --------------------------------------------------------------------------- the cases seen


def _step_block(text: str, title: str) -> str:
    start = text.index(title)
    end = text.find("\nStep ", start + 1)
    return text[start:end if end > 0 else None]


def test_gradient_descent_main_table_keeps_whole_numbers_at_80_columns():
    """It cut ``-0.…`` and ``3.36…`` in the very zig-zag the lesson is about."""
    text = render_text(run_lesson(load_lesson("gradient-descent")), width=80, plots=False)
    table = _step_block(text, "Step by step")
    assert "3.36…" not in table and "-0.…" not in table
    row = next(line for line in table.splitlines() if line.split()[:1] == ["2"])
    assert row.split()[:4] == ["2", "1.6800", "-0.6000", "3.3600"]  # step, x, y, ∂f/∂x: by hand 2·1·1.68
    assert row.split()[-1] == "3.2875"  # f(new) = 1.4112² + 10·0.36², the last column always shown
    assert "…" in row  # what does not fit is whole columns left out


def test_nine_values_fit_120_columns_whole():
    """loss's −ln p row, bpe's vocabulary row and the 16×2 descent path were cut at any width."""
    loss = render_text(run_lesson(load_lesson("loss")), width=120, plots=False)
    curve = next(line for line in loss.splitlines() if "p=0.99" in line)
    assert "…" not in curve and "p=0.2" in curve
    assert "1.6094" in loss  # −ln 0.2, the column the elision hid
    bpe = render_text(run_lesson(load_lesson("bpe")), width=120, plots=False)
    # the vocabulary after each merge is a column of the merge list: every row whole
    vocabulary = [line.split() for line in bpe.splitlines() if re.match(r"^\s+\d+\s+\S+ \S+\s+\S+\s+\d+\s+\d+\s+\d+$", line)]
    assert [row[-2] for row in vocabulary[:10]] == [str(12 + k) for k in range(10)]
    # the descent path is drawn with --full (limit 0; a default run names it): all 16 points
    descent = render_text(run_lesson(load_lesson("gradient-descent")), width=80, limit=0, plots=False)
    path = _step_block(descent, "Where the run ended")
    rows = [line.split() for line in path.splitlines() if re.match(r"^\s+\d+\s+-?\d\.\d{4}\s+-?\d\.\d{4}$", line)]
    assert [row[0] for row in rows] == [str(i) for i in range(16)]  # all 16 points, 0.8^t · 2 and (−0.6)^t
    assert rows[8][1:] == [f"{2 * 0.84**8:.4f}", f"{0.6**8:.4f}"] == ["0.4958", "0.0168"]


def test_a_key_column_stays_when_columns_are_left_out():
    """loss at 80 columns: the −ln p row left out p = 0.2, the hedged answer its text talks about."""
    for width in (60, 80):
        text = render_text(run_lesson(load_lesson("loss")), width=width, plots=False)
        header = next(line for line in text.splitlines() if "p=0.99" in line)
        values = text.splitlines()[text.splitlines().index(header) + 2].split()
        assert "…" in header and "p=0.2" in header.split()
        assert values[header.split().index("p=0.2")] == "1.6094"  # −ln 0.2
        assert header.split()[-1] == "p=0.001" and values[-1] == "6.9078"  # −ln 0.001
    far = Trace("t", "T", steps=[Step("s", "S", values=[Value("v", np.arange(500) / 4, key=(250,))])])
    for width in (80, 1000):
        line = render_text(far, width=width).splitlines()[7].split()
        assert "62.5000" in line and len(line) <= 64 + 3  # 250 / 4, kept; at most 64 columns and their gaps


def test_columns_are_chosen_by_the_room_not_by_a_count():
    x = np.arange(30 * 30, dtype=float).reshape(30, 30) / 7
    trace = Trace("t", "T", steps=[Step("s", "S", values=[Value("x", x)])])
    shown = {}
    for width in (60, 120, 240):
        header = next(line for line in render_text(trace, width=width).splitlines() if line.strip().startswith("0 "))
        shown[width] = len([word for word in header.split() if word != "…"])
        assert all(cell_len(line) <= width for line in render_text(trace, width=width).splitlines())
    assert shown[60] < shown[120] < shown[240]  # no cap: a wide terminal shows more of the matrix
    assert shown[240] > 20


def test_the_elision_note_is_one_line_under_the_table():
    """It was the table's caption, wrapped inside the narrow table (``16×2 matrix, elided`` / ``for display``)."""
    for shape in ((40, 2), (20, 20)):
        trace = Trace("t", "T", steps=[Step("s", "S", values=[Value("m", np.ones(shape))])])
        for width in (60, 80):
            lines = render_text(trace, width=width).splitlines()
            (note,) = [line for line in lines if "elided" in line]
            assert note.strip() == f"{shape[0]}×{shape[1]} matrix, elided for display (--full shows all)"
            after = lines[lines.index(note) + 1 :]
            assert not after or "display" not in after[0]


def test_a_long_row_label_does_not_hide_the_most_probable_token():
    """next-token at 80 columns: the label ``filtered_probs`` pushed the token ``a`` out
    (the small hand-made setting, --model random: eight tokens, h·W_U is 4 × 8)."""
    trace = run_lesson(load_lesson("next-token"), {"model": "random"})
    for step in trace.steps:  # the default run names p′ and leaves its table to --full: draw it here
        step.values = [value._replace(detail=False) for value in step.values]
    for width in (60, 80):
        text = render_text(trace, width=width, plots=False)
        block = text[text.index("p′ (filtered, renormalised)") :]
        header, _, values = block.splitlines()[1:4]
        if width == 80:
            assert header.split() == ["the", "cat", "sat", "on", "a", "mat", "dog", "."]
        else:  # columns left out, the most probable token kept
            assert "…" in header.split() and "a" in header.split()
        # p′[a] = 0.3123 / 0.9221 by hand
        assert values.split()[header.split().index("a")] == f"{0.3123 / 0.9221:.4f}"


def test_step_titles_wrap_instead_of_being_cut():
    title = "Merge the most frequent pair (BPE, 47 merges from the built-in corpus)"
    text = plain_text([Heading(Text(f"Step 3 · {title}"))], 40)
    assert "…" not in text
    assert " ".join(text.split("─")[0].split()) == f"Step 3 · {title}"
    assert text.rstrip().endswith("─" * 40)


def test_a_text_table_wraps_words_and_leaves_out_columns_it_cannot_fit():
    table = Table(("what", "a", "b", "c", "d", "e", "f", "note"),
                  tuple((f"row {i}", *(1000.25 * i + k for k in range(6)), "shrinks, flipping sign") for i in range(3)))
    trace = Trace("t", "T", steps=[Step("s", "S", values=[Value("t", table)])])
    for width in (50, 60, 80):
        text = render_text(trace, width=width)
        assert_fits(text, render_text(trace, width=UNBOUNDED), width, f"table at {width}")
        assert "2000.50" not in text or "2000.5000" in text  # a number is whole or absent
    narrow = render_text(trace, width=50)
    assert "of 8 columns, elided for display" in narrow and "flipping" in narrow


# --------------------------------------------------------------------------- quiz, progress and course screens


def test_quiz_text_wraps_between_words_at_the_terminal_width(tmp_path):
    """``ide|ntity``, ``softm|ax``: the quiz printed unwrapped lines that the terminal broke anywhere."""
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    view = quiz_view.QuizView(stream)
    import os

    os.environ["COLUMNS"] = "60"
    try:
        question = quiz.make_quiz([load_lesson("attention")], count=1, seed=3)[0]
        view.show("question", (1, 1, question))
        view.show("reply", session.Attempt(question).respond("show"))
    finally:
        del os.environ["COLUMNS"]
    text = re.sub(r"\x1b\[[0-9;]*m", "", stream.getvalue())
    assert all(cell_len(line) <= 60 for line in text.splitlines()), [line for line in text.splitlines() if cell_len(line) > 60][:2]
    assert len(text.splitlines()) > 5


def test_a_long_command_is_broken_where_it_still_runs():
    """``784,16,16,1|0``: the command a quiz shows ran past the width and the terminal broke it anywhere."""
    import subprocess

    from nntutor.render.terminal import Command

    command = "nntutor lesson multi-head --x '" + ";".join(",".join(["0.25", "-1.5", "3", "0.125"]) for _ in range(8)) + "' --heads 2"
    text = plain_text([Command("The whole computation: ", command)], 40)
    lines = text.splitlines()
    assert lines[0] == "The whole computation:" and all(cell_len(line) <= 40 for line in lines)
    pasted = "\n".join(lines[1:]).replace("nntutor", "printf '%s|'", 1)
    typed = subprocess.run(["bash", "-c", command.replace("nntutor", "printf '%s|'", 1)], capture_output=True, text=True).stdout
    shown = subprocess.run(["bash", "-c", pasted], capture_output=True, text=True).stdout
    from nntutor.catalog.inputs import parse_matrix

    typed_words, shown_words = typed.split("|"), shown.split("|")
    assert typed_words[:2] == shown_words[:2] == ["lesson", "multi-head"]
    assert (parse_matrix("--x", shown_words[3]) == parse_matrix("--x", typed_words[3])).all()
    assert shown_words[4:] == typed_words[4:]


def test_progress_and_course_map_wrap_between_words():
    import time

    from nntutor.catalog.course import load_course
    from nntutor.render.course_view import course_list, course_map

    now = time.time()
    report = {
        "path": "/home/ana/nntutor/progress.sqlite3",
        "course": [{"number": 1, "lesson": "neuron", "runs": 2, "answers": 3, "last": now - 7200}],
        "accuracy": [{"lesson": "neuron", "correct": 2, "asked": 3, "credit": 2.5}],
        "credit_rule": "1 point a right answer, less after hints, 0 when shown",
        "weakest": [{"step_kind": "softmax", "correct": 0, "asked": 2}],
        "due": [{"prompt": "Compute softmax(x)[1] for x = [2, 1, 0.1] with W the 3×3 identity matrix and T = 1."}],
    }
    places = load_course(None)[0].places(frozenset(), {})
    screens = [quiz_view.progress_renderable(report, now), course_map(places), course_list(places)]
    for width in (60, 80):
        for screen in screens:
            assert_fits(plain_text([screen], width), plain_text([screen], UNBOUNDED), width, f"screen at {width}")
