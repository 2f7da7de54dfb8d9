"""``--step`` in a terminal: single keys, back redraws, tall steps page, q says where it stopped; ``--from-step``."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.catalog.steps import start_step
from nntutor.errors import InputError
from nntutor.render import terminal
from nntutor.render.keys import key_name
from nntutor.render.pager import HELP_TEXT, Position, move
from tests.helpers import assert_refused

CLEAR = "\x1b[2J\x1b[H"  # clear the screen, cursor to the top


def screen(height: int = 40) -> tuple[Console, io.StringIO]:
    """A terminal-like console (control codes kept, no colour) writing to a buffer."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system=None, width=80, height=height, markup=False, highlight=False)
    return console, buffer


def keys(*names: str):
    queue = iter(names)
    return lambda: next(queue)


def screens(text: str) -> list[str]:
    """What each redraw put on the screen (the text after each clear)."""
    return [part for part in text.split(CLEAR)[1:]]


def resume(number: int) -> str:
    return f"nntutor lesson neuron --step --from-step {number}"


def test_keys_move_redraw_and_quit_says_where_it_stopped():
    console, buffer = screen()
    trace = run_lesson(load_lesson("neuron"))
    went_through = terminal.page_trace(trace, read_key=keys("space", "enter", "b", "q"), console=console, resume=resume)
    assert went_through is False
    drawn = screens(buffer.getvalue())
    # step 1, step 2, step 3, then b: step 2 drawn again on a cleared screen, never printed below
    assert [re.search(r"Step (\d) ·", s).group(1) for s in drawn] == ["1", "2", "3", "2"]
    assert all(s.count("Step ") == 1 for s in drawn)
    assert drawn[0].startswith("A single neuron\n")  # the lesson's title comes with the first step
    assert drawn[-1].rstrip().endswith("stopped at step 2 of 4: nntutor lesson neuron --step --from-step 3 to go on")


def test_running_to_the_end_shows_the_result_and_returns_true():
    console, buffer = screen()
    trace = run_lesson(load_lesson("neuron"))
    assert terminal.page_trace(trace, read_key=keys("space", "space", "space", "space"), console=console) is True
    last = screens(buffer.getvalue())[-1]
    assert last.lstrip().startswith("Result") and "y = 0" in last


def test_other_keys_show_the_keys_and_do_not_move():
    console, buffer = screen()
    trace = run_lesson(load_lesson("neuron"))
    terminal.page_trace(trace, read_key=keys("x", "?", "q"), console=console, resume=resume)
    text = buffer.getvalue()
    assert text.count(HELP_TEXT) == 2
    assert len(screens(text)) == 1  # no redraw for a key that is not the pager's
    assert "stopped at step 1 of 4" in text


def test_a_step_taller_than_the_screen_pages():
    console, buffer = screen(height=12)
    trace = run_lesson(load_lesson("attention"))
    terminal.page_trace(trace, read_key=keys("space", "space", "b", "q"), console=console)
    drawn = screens(buffer.getvalue())
    assert all(len(s.rstrip("\n").splitlines()) <= 12 for s in drawn)
    assert "[step 1/5, page 1/" in drawn[0] and "[step 1/5, page 2/" in drawn[1]
    assert "[step 1/5, page 2/" in drawn[3]  # b goes back one page


def test_quitting_on_the_last_step_counts_as_reaching_it():
    console, _ = screen()
    trace = run_lesson(load_lesson("neuron"))
    assert terminal.page_trace(trace, read_key=keys("space", "space", "space", "q"), console=console) is True
    assert terminal.page_trace(trace, read_key=keys("space", "space", "q"), console=console) is False
    # at 12 lines the last step of attention takes several screens: reaching it means its last one
    console, buffer = screen(height=12)
    trace = run_lesson(load_lesson("attention"))
    assert terminal.page_trace(trace, first=5, read_key=keys("q"), console=console) is False
    count = int(re.search(r"\[step 5/5, page 1/(\d+)\]", buffer.getvalue()).group(1))
    assert count > 1
    assert terminal.page_trace(trace, first=5, read_key=keys(*["space"] * (count - 2), "q"), console=console) is False
    assert terminal.page_trace(trace, first=5, read_key=keys(*["space"] * (count - 1), "q"), console=console) is True


def test_ctrl_c_and_end_of_input_stop_like_q():
    def interrupted():
        raise KeyboardInterrupt

    for read in (interrupted, keys("eof")):
        console, buffer = screen()
        assert terminal.page_trace(run_lesson(load_lesson("neuron")), read_key=read, console=console) is False
        assert "stopped at step 1 of 4: --from-step 2 to go on" in buffer.getvalue()


def test_from_step_starts_there():
    console, buffer = screen()
    trace = run_lesson(load_lesson("attention"))
    terminal.page_trace(trace, first=3, read_key=keys("b", "q"), console=console)
    drawn = screens(buffer.getvalue())
    assert "Step 3 · Divide by √d_k" in drawn[0] and "Step 2 ·" not in drawn[0]
    assert "Step 2 · Score every query" in drawn[1]  # the steps before can still be reached with b


def test_move():
    pages = {0: 1, 1: 3, 2: 1}.get
    assert move(Position(0, 0), "space", pages, 3) == Position(1, 0)
    assert move(Position(1, 2), "enter", pages, 3) == Position(2, 0)
    assert move(Position(1, 2), "b", pages, 3) == Position(1, 1)
    assert move(Position(1, 0), "b", pages, 3) == Position(0, 0)
    assert move(Position(0, 0), "b", pages, 3) == Position(0, 0)
    assert move(Position(2, 0), "space", pages, 3) == "end"
    assert move(Position(2, 0), "q", pages, 3) == "quit"
    assert move(Position(2, 0), "z", pages, 3) == "keys"


def test_key_names():
    assert [key_name(b) for b in (b"\r", b"\n", b" ", b"q", b"Q", b"\x1b[C", b"\x03", b"", b"\xff\xfe")] == [
        "enter", "enter", "space", "q", "q", "right", "ctrl-c", "eof", "other",
    ]


def test_start_step_by_number_or_id():
    trace = run_lesson(load_lesson("attention"))
    assert [start_step(trace, text) for text in (None, "1", "5", "scale", " SOFTMAX ")] == [1, 1, 5, 3, 4]
    for bad in ("0", "6", "99", "-1", "2.5", "", "٣", "x" * 100):
        with pytest.raises(InputError) as caught:
            start_step(trace, bad)
        assert str(caught.value).startswith("--from-step: expected a step number from 1 to 5 or a step id (projections, scores, scale")


def test_cli_from_step_text_view(run_cli):
    result = run_cli("lesson", "attention", "--from-step", "3")
    assert result.exit_code == 0, result.stderr
    assert "Step 3 · Divide by √d_k" in result.stdout and "Step 2 ·" not in result.stdout
    assert "Scaled dot-product attention" in result.stdout and "Result" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--from-step", "99"], "--from-step: expected a step number from 1 to 5 or a step id"),
        (["--from-step", "nope"], "got 'nope'"),
        (["--from-step", "2", "--format", "json"], "--from-step: is for the text view, a step at a time (not with --format json)"),
        (["--from-step", "2", "--vs", "--causal"], "(not with --vs)"),
    ],
)
def test_cli_from_step_refusals(run_cli, args, fragment):
    assert_refused(run_cli("lesson", "attention", *args), fragment)


def test_deliver_says_whether_the_pager_reached_the_end(monkeypatch):
    from nntutor.render import output

    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    monkeypatch.setattr(output, "styled", lambda stream: True)
    monkeypatch.setattr(terminal, "page_trace", lambda trace, **options: options["first"] == 2)
    trace = run_lesson(load_lesson("neuron"))
    assert output.deliver(trace, step=True, first=2) is True
    assert output.deliver(trace, step=True, first=1) is False
