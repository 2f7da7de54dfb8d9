"""Heatmap colours: readable on a dark and a light background, text by background, a legend that says.

Contrast ratios are computed from the WCAG 2 definition and checked against values
published with it (black on white 21:1; #767676 on white 4.54:1, the darkest grey
on white that passes AA), then required of every cell colour of both themes.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.color import Color

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.render import output, palette
from nntutor.render.output import make_console
from nntutor.render.terminal import print_trace
from nntutor.trace import Step, Trace, Value

AA = 4.5  # WCAG 2, normal text


def _rgb(index: int) -> tuple[int, int, int]:
    """The colour rich itself draws for xterm colour ``index`` (an implementation other than the palette's)."""
    triplet = Color.parse(f"color({index})").get_truecolor()
    return triplet.red, triplet.green, triplet.blue


def test_contrast_matches_published_values():
    assert palette.contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert palette.contrast((0x76, 0x76, 0x76), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
    assert palette.contrast((0x77, 0x77, 0x77), (255, 255, 255)) < AA  # #777 on white fails AA
    assert palette.contrast((255, 0, 0), (255, 255, 255)) == pytest.approx(4.0, abs=0.01)


@pytest.mark.parametrize("theme", palette.THEMES)
def test_every_cell_colour_meets_wcag_aa_and_the_two_ends_differ(theme):
    for step in range(-palette.LEVELS, palette.LEVELS + 1):
        back = palette.background(step, theme)
        assert palette.rgb(back) == _rgb(back)
        ratio = palette.contrast(_rgb(back), _rgb(palette.text_on(back)))
        assert ratio >= AA, (theme, step, back, ratio)
    zero = palette.luminance(_rgb(palette.background(0, theme)))
    top = palette.luminance(_rgb(palette.background(palette.LEVELS, theme)))
    # dark: 0 is near the terminal's own black and the largest bright; light: the other way round
    assert (zero < 0.05 and top > 0.4) if theme == "dark" else (zero > 0.8 and top < 0.1)


def _cells(text: str) -> list[tuple[str, str, str]]:
    """(text colour, background, number) of every coloured cell in 256-colour output."""
    return re.findall(r"\x1b\[38;5;(\d+);48;5;(\d+)m\s*(-?\d+\.\d+|-?∞)", text)


def _coloured(trace: Trace, theme: str) -> str:
    output.forget_theme()
    output.choose_theme(theme)
    try:
        buffer = io.StringIO()
        print_trace(make_console(buffer, width=100, color=True), trace)
        return buffer.getvalue()
    finally:
        output.forget_theme()


@pytest.mark.parametrize("theme", palette.THEMES)
def test_same_background_same_text_colour_and_zero_weights_are_not_bright_on_dark(theme):
    """0.3312 and 0.2908 switched between white and black text on the same background."""
    cells = []
    for name, flags in (("attention", {"causal": True}), ("multi-head", {}), ("positional-encoding", {})):
        cells += _cells(_coloured(run_lesson(load_lesson(name), flags), theme))
    assert len(cells) > 40
    text_of = {}
    for fg, bg, _ in cells:
        text_of.setdefault(bg, set()).add(fg)
    assert all(len(fgs) == 1 for fgs in text_of.values()), text_of
    zeros = {bg for _, bg, number in cells if float(number.replace("∞", "inf")) == 0.0}
    assert zeros == {str(palette.background(0, theme))}
    if theme == "dark":  # the masked weights of a causal run: no white boxes on a dark terminal
        assert all(palette.luminance(_rgb(int(bg))) < 0.05 for bg in zeros)


def test_signed_values_get_two_hues_and_the_legend_says_what_colours_mean():
    m = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 2.0]])
    trace = Trace("t", "T", steps=[Step("s", "S", values=[Value("m", m, heat=True)])])
    text = _coloured(trace, "light")
    cells = {float(number): int(bg) for _, bg, number in _cells(text)}
    assert cells[-2.0] == palette.background(-8, "light") and cells[2.0] == palette.background(8, "light")
    assert cells[0.5] == palette.background(2, "light")  # 0.5 / 2 = a quarter of the way: level 2 of 8
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    legend = next(line for line in plain.splitlines() if "colour:" in line)
    assert "-2" in legend and "blue < 0 < red" in legend and "darker = larger" in legend and "values -2 … 2" in legend
    dark = re.sub(r"\x1b\[[0-9;]*m", "", _coloured(trace, "dark"))
    assert "brighter = larger" in dark


def test_theme_choice_flag_environment_and_colorfgbg(monkeypatch):
    monkeypatch.delenv("NNTUTOR_THEME", raising=False)
    monkeypatch.setenv("COLORFGBG", "0;15")  # black on white
    output.forget_theme()
    assert output.theme() == "light" and output.theme("svg") == "dark" and output.theme("html") == "light"
    monkeypatch.setenv("COLORFGBG", "15;default;0")
    assert output.theme() == "dark"
    monkeypatch.setenv("NNTUTOR_THEME", "light")
    output.forget_theme()
    assert output.theme() == output.theme("svg") == "light"
    output.forget_theme()
    output.choose_theme("dark")
    assert output.theme() == "dark"
    output.forget_theme()


def test_theme_flag_is_checked_and_reaches_the_svg(run_cli, tmp_path, monkeypatch):
    from tests.helpers import assert_refused

    assert_refused(run_cli("lesson", "attention", "--theme", "pink"), "--theme", "'pink' is not one of: auto, dark, light")
    assert_refused(run_cli("--theme", "pink", "list"), "--theme")
    monkeypatch.setenv("NNTUTOR_THEME", "sepia")
    assert_refused(run_cli("lesson", "attention"), "NNTUTOR_THEME", "is not one of")
    monkeypatch.delenv("NNTUTOR_THEME")
    monkeypatch.delenv("NO_COLOR")  # (run_cli sets it) a picture is the coloured view
    light_zero, dark_zero = ("#" + "".join(f"{c:02x}" for c in palette.rgb(palette.background(0, t))) for t in ("light", "dark"))
    for flags, background, zero in ((["--theme", "light"], "#ffffff", light_zero), ([], "#292929", dark_zero)):
        path = tmp_path / f"a{len(flags)}.svg"
        assert run_cli("lesson", "attention", "--causal", *flags, "-o", str(path)).exit_code == 0
        svg = path.read_text()
        assert background in svg.lower() and zero in svg.lower(), (flags, background, zero)
    path = tmp_path / "b.svg"
    assert run_cli("--theme", "light", "lesson", "attention", "--causal", "-o", str(path)).exit_code == 0
    assert light_zero in path.read_text().lower()
