"""Renderers: fixed-width terminal text, Markdown parsed back, JSON shape."""

import io
import json

import numpy as np
from markdown_it import MarkdownIt

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.numfmt import fmt
from nntutor.render.json import plain, render_json
from nntutor.render.markdown import render_markdown
from nntutor.render.output import make_console, plain_text
from nntutor.render.terminal import print_trace, render_text
from nntutor.trace import Step, Table, Trace, Value, classify


def test_number_formatting():
    assert fmt(0.65900114, 4) == "0.659"
    assert fmt(0.65900114, 4, fixed=True) == "0.6590"
    assert fmt(-0.0000001, 4) == "-1e-07"
    assert fmt(float("-inf")) == "-∞"
    assert fmt(3) == "3"
    assert fmt(-0.00001, 2) == "-1e-05"
    assert fmt(-0.004, 2) == "-4e-03"  # below the shown precision: scientific, never a silent 0


def test_terminal_render_fixed_width():
    trace = run_lesson(load_lesson("attention"), {"causal": True})
    buffer = io.StringIO()
    console = make_console(buffer, width=80, color=False)
    print_trace(console, trace)
    text = buffer.getvalue()
    assert "\x1b[" not in text
    assert "Step 2 · Score every query against every key" in text
    assert "S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6" in text
    assert "-∞" in text
    # labelled rows and columns: the token names head the weight table
    weights_block = text[text.index("attention weights A"):]
    assert weights_block.splitlines()[1].split() == ["The", "cat", "sat", "down"]
    assert all(len(line) <= 80 for line in text.splitlines())


def test_colour_is_forced_on_and_off():
    trace = run_lesson(load_lesson("neuron"))
    on = io.StringIO()
    print_trace(make_console(on, width=80, color=True), trace)
    assert "\x1b[" in on.getvalue()
    off = io.StringIO()
    print_trace(make_console(off, width=80, color=False), trace)
    assert "\x1b[" not in off.getvalue()


def test_no_color_environment(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    buffer = io.StringIO()
    console = make_console(buffer, width=80)
    console.print("x", style="bold red")
    assert "\x1b[" not in buffer.getvalue()


def test_large_matrix_elided_in_text_and_markdown():
    big = np.arange(400, dtype=float).reshape(20, 20)
    trace = Trace("t", "T", steps=[Step("s", "S", values=[Value("m", big)])])
    text = render_text(trace, width=120)
    assert "…" in text and "⋮" in text
    assert "399" in text  # the last element is still shown
    md = render_markdown(trace)
    assert "…" in md and "elided" in md
    assert json.loads(render_json(trace))["steps"][0]["values"]["m"][19][19] == 399.0


def test_markdown_parses_with_tables_and_math():
    trace = run_lesson(load_lesson("attention"), {"causal": True})
    md = render_markdown(trace)
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    assert headings[:2] == ["1. Project each token into a query, a key and a value", "2. Score every query against every key"]
    assert sum(1 for t in tokens if t.type == "table_open") >= 6
    paragraphs = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "paragraph_open"]
    assert any(p.startswith("$$\nS = Q K^\\top") for p in paragraphs)
    fences = [t.content for t in tokens if t.type == "fence"]
    assert any("q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6" in f for f in fences)
    # a table cell holds the computed weight, and the header names the tokens
    cells = [t.content for t in tokens if t.type == "inline"]
    assert "0.4017" in cells and "down" in cells


def test_markdown_escapes_user_text():
    trace = Trace("t", "T|*x*", steps=[Step("s", "a|b", values=[Value("v", np.array([1.0, 2.0]), cols=("|", "*"))])])
    md = render_markdown(trace)
    assert "# T\\|\\*x\\*" in md
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    assert sum(1 for t in tokens if t.type == "th_open") == 3


def test_json_shape_and_special_values():
    trace = Trace(
        "t",
        "T",
        inputs={"x": np.array([1.0, 2.0])},
        steps=[Step("s", "S", formula="x", values=[Value("tab", Table(("a", "b"), (("p", 1),))), Value("m", np.array([-np.inf, 0.5]))])],
        outputs={"y": np.float64(0.1), "n": np.int64(3), "d": {"W": np.eye(2)}},
    )
    doc = json.loads(render_json(trace))
    assert doc["steps"][0]["values"] == {"tab": {"columns": ["a", "b"], "rows": [["p", 1]]}, "m": ["-inf", 0.5]}
    assert doc["outputs"] == {"y": 0.1, "n": 3, "d": {"W": [[1.0, 0.0], [0.0, 1.0]]}}
    assert plain(np.float64(0.1) + np.float64(0.2)) == 0.30000000000000004


def test_heatmap_cells_carry_numbers_in_colour_and_plain_without():
    trace = run_lesson(load_lesson("attention"), {"causal": True})
    coloured = io.StringIO()
    print_trace(make_console(coloured, width=100, color=True), trace)
    text = coloured.getvalue()
    assert "colour:" in text
    # the weight 0.4017 is drawn on a coloured background (a 256-colour background escape precedes it)
    index = text.index("0.4017", text.index("attention weights A"))
    assert "\x1b[" in text[index - 40 : index] and "48;5;" in text[index - 40 : index]
    plain_text = render_text(trace, width=100)
    assert "colour:" not in plain_text
    assert "0.4017" in plain_text


def test_wide_matrices_elide_columns_to_fit_instead_of_wrapping():
    rng = np.random.default_rng(1)
    x = np.round(rng.uniform(-1, 1, (12, 10)), 2)
    trace = Trace("t", "T", steps=[Step("s", "S", values=[Value("x", x)])])
    text = render_text(trace, width=60)
    body = text.split("──\n", 2)[-1]
    table_lines = [line for line in body.splitlines() if line.strip().startswith(("0 ", "11 "))]
    assert table_lines and all(len(line) <= 60 for line in table_lines)
    assert "…" in table_lines[0]
    cells = table_lines[0].split()[1:]
    # every visible cell is a whole number, never a wrapped or cut one
    assert all(c == "…" or c == f"{float(c):.4f}" for c in cells), cells
    assert f"{x[0, 9]:.4f}" in table_lines[0]  # the last column is kept
    full = render_text(trace, width=100_000, limit=0)
    assert "…" not in full
    assert f"{x[11, 9]:.4f}" in full


def every_kind_trace() -> Trace:
    """One value of each kind ``trace.classify`` knows, in a single step."""
    values = [
        Value("word", "hello"),
        Value("z", 0.5),
        Value("v", np.array([1.0, 2.0])),
        Value("m", np.eye(2)),
        Value("s", np.zeros((2, 2, 2))),
        Value("tab", Table(("pair", "count"), (("e s", 9),))),
        Value("d", {"W": 3}),
        Value("tokens", ["The", "cat"]),
        Value("merges", [["s", "t</w>"], ["e", "st</w>"]]),
        Value("layers", [np.zeros(3), np.zeros(2)]),
        Value("nothing", None),
    ]
    return Trace("t", "T", steps=[Step("s", "S", values=values)])


def test_every_kind_is_drawn_by_the_terminal_and_markdown():
    trace = every_kind_trace()
    assert [v.kind for v in trace.steps[0].values] == [
        "text", "scalar", "vector", "matrix", "stack", "table", "mapping", "labels", "rows", "ragged", "other",
    ]
    text = render_text(trace, width=80)
    for fragment in ("word: hello", "z = 0.5", "s [1]", "e s", "tokens: The | cat", "st</w>", "layers[1]", "nothing: array of shape ()"):
        assert fragment in text, fragment
    md = render_markdown(trace)
    for fragment in ("- **word** = hello", "**s [1]**", "**tokens**: The · cat", "st\\</w\\>", "**layers\\[1\\]**"):
        assert fragment in md, fragment


def test_a_list_of_layers_is_drawn_layer_by_layer():
    """mlp's weights input, [{W, b}, …]: NumPy counts it as a vector of objects; drawing it as one crashed."""
    layers = [{"W": np.array([[0.16, -0.27]]), "b": np.array([0.41])}, {"W": np.array([[0.36]]), "b": np.array([0.19])}]
    assert classify(layers) == "ragged"
    text = render_text(Trace("t", "T", steps=[Step("s", "S", values=[Value("weights", layers)])]), width=80)
    assert "weights[0]" in text and "weights[1]" in text and "[0.16, -0.27]" in text
    assert "**weights\\[1\\]**" in render_markdown(Trace("t", "T", steps=[Step("s", "S", values=[Value("weights", layers)])]))


def test_a_comparison_shows_the_items_of_a_list_that_differ():
    from nntutor.render.compare import Comparison
    from nntutor.render.compare_view import comparison_renderables

    first = Trace("t", "T", outputs={"layers": [np.zeros(3), np.zeros(2)], "p": np.array([0.5, 0.5])})
    second = Trace("t", "T", outputs={"layers": [np.ones(3), np.zeros(2)], "p": np.array([0.5, 0.7])})
    text = plain_text(comparison_renderables(Comparison(first, second, "--b 1")), width=100)
    assert "see the full runs" not in text
    assert "layers[0]" in text and "layers[1]" not in text  # only the item that differs
    assert "1.0000*" in text and "0.7000*" in text


def test_a_revealed_step_runs_on_instead_of_being_cut():
    from nntutor.render.terminal import step_renderable

    why = "A sentence long enough to pass the edge of a forty-column screen without being cut."
    step = Step("s", "S", worked=["w = 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 = 55"], why=why)
    buffer = io.StringIO()
    make_console(buffer, width=40, color=False).print(step_renderable(step, 1, 4, run_on=True), soft_wrap=True)
    lines = buffer.getvalue().splitlines()
    assert "  " + why in lines
    assert "  w = 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 = 55" in lines


def test_the_narrative_travels_with_the_trace():
    trace = Trace("t", "T", narrative="Every renderer reads this from the trace.", steps=[Step("s", "S", why="because")])
    assert "Every renderer reads this from the trace." in render_text(trace, width=80)
    assert "Every renderer reads this from the trace." in render_markdown(trace)
    lesson = load_lesson("neuron")
    assert run_lesson(lesson).narrative == lesson.narrative
