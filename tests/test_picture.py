"""SVG and HTML exports: plots that line up in a browser, colours that read on white, one picture per step."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import assert_refused

BRAILLE = re.compile("[\u2801-\u28ff]")


def _contrast(rgb: tuple[int, int, int], against=(255, 255, 255)) -> float:
    """The WCAG contrast ratio of two colours."""
    def luminance(c):
        parts = [v / 255 for v in c]
        parts = [p / 12.92 if p <= 0.03928 else ((p + 0.055) / 1.055) ** 2.4 for p in parts]
        return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]

    high, low = sorted((luminance(rgb), luminance(against)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _page(run_cli, tmp_path, lesson="gradient-descent", *flags):
    target = tmp_path / f"{lesson}.html"
    result = run_cli("lesson", lesson, "-o", str(target), *flags)
    assert result.exit_code == 0, result.stderr
    return target.read_text(encoding="utf-8")


def test_html_plots_are_svg_placed_cell_by_cell(run_cli, tmp_path):
    page = _page(run_cli, tmp_path)
    # the page's text has no braille left: both plots of the lesson are inline SVG pictures
    text_part = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)
    assert not BRAILLE.search(text_part)
    pictures = re.findall(r"<svg class=\"picture\".*?</svg>", page, flags=re.S)
    assert len(pictures) == 2
    for svg in pictures:
        # each run of characters is stretched to its exact cells, whatever font the browser uses
        runs = re.findall(r"<text [^>]*textLength=\"([\d.]+)\"[^>]*>([^<]*)</text>", svg)
        assert runs and any(BRAILLE.search(t) for _, t in runs)
        widths = {round(float(length) / len(t.replace("&#160;", " ")), 3) for length, t in runs if "&" not in t}
        assert len(widths) == 1  # one cell width for every character
        ET.fromstring(svg)  # well-formed


def test_html_asks_first_for_fonts_with_braille(run_cli, tmp_path):
    page = _page(run_cli, tmp_path, "softmax")
    stack = re.search(r"pre, code \{ font-family: ([^;]+);", page).group(1)
    assert stack.split(",")[0].strip(" '\"") in ("DejaVu Sans Mono", "Noto Sans Mono")


def test_html_text_colours_read_on_white(run_cli, tmp_path):
    page = _page(run_cli, tmp_path, "attention")
    assert "background-color: #ffffff" in page
    rule = re.search(r'<span style="color: #([0-9a-f]{6})[^"]*">─{10,}', page)
    assert rule is not None
    rgb = tuple(int(rule.group(1)[i:i + 2], 16) for i in (0, 2, 4))
    assert _contrast(rgb) >= 4.5, rule.group(1)  # the rule lines (bright green on a terminal)
    # every text colour without a background of its own reads on white
    colours = set(re.findall(r'style="color: #([0-9a-f]{6})(?:; text-decoration-color: #[0-9a-f]{6})?(?:; font-weight: bold)?"', page))
    assert len(colours) >= 4  # formulas, headers, worked lines, rules, dim notes
    for colour in colours:
        rgb = tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))
        assert _contrast(rgb) >= 3.0, colour


def test_svg_step_only_is_one_step(run_cli, tmp_path):
    target = tmp_path / "output.svg"
    result = run_cli("lesson", "backprop", "--format", "svg", "--step-only", "output", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    root = ET.parse(target).getroot()
    text = "".join(root.itertext()).replace("\xa0", " ")
    assert "Step 2 · Forward: the output layer and the loss" in text
    assert "Step 1 ·" not in text and "Step 3 ·" not in text and "What next" not in text
    whole = tmp_path / "whole.svg"
    assert run_cli("lesson", "backprop", "-o", str(whole)).exit_code == 0
    height = float(root.get("viewBox").split()[3])
    assert height < float(ET.parse(whole).getroot().get("viewBox").split()[3]) / 3
    assert run_cli("lesson", "backprop", "--format", "svg", "--step-only", "2", "-o", str(target)).exit_code == 0


def test_a_folder_gets_one_svg_per_step(run_cli, tmp_path):
    folder = tmp_path / "slides"
    result = run_cli("lesson", "softmax", "--format", "svg", "-o", f"{folder}/")
    assert result.exit_code == 0, result.stderr
    files = sorted(p.name for p in folder.iterdir())
    from nntutor.catalog.lessonfile import load_lesson
    from nntutor.catalog.run import run_lesson

    steps = run_lesson(load_lesson("softmax"), {}).steps
    assert files == [f"{n:02d}-{s.id}.svg" for n, s in enumerate(steps, start=1)]
    for number, name in enumerate(files, start=1):
        text = "".join(ET.parse(folder / name).getroot().itertext()).replace("\xa0", " ")
        assert f"Step {number} ·" in text and f"Step {number + 1} ·" not in text
    assert "wrote" in result.stderr and "svg files" in result.stderr


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (("--format", "svg", "--step-only", "nope"), ("--step-only: expected a step number from 1 to",)),
        (("--format", "svg", "--step-only", "0"), ("--step-only: expected a step number",)),
        (("--step-only", "2"), ("--step-only: is for --format svg or html",)),
        (("--format", "markdown", "--step-only", "2"), ("--step-only: is for --format svg or html",)),
        (("--format", "svg", "--step-only", "2", "--vs", "--temperature 5"), ("--step-only: does not go with --vs",)),
        (("--step-only", "2", "--practice"), ("--step-only: does not go with --practice",)),
    ],
)
def test_bad_step_only(run_cli, flags, fragments):
    assert_refused(run_cli("lesson", "softmax", *flags), *fragments)


def test_a_folder_needs_a_picture_format(run_cli, tmp_path):
    assert_refused(run_cli("lesson", "softmax", "-o", f"{tmp_path}/slides/"), "--output:", "is a folder", "--format svg or html")
    assert_refused(run_cli("lesson", "softmax", "--format", "json", "-o", f"{tmp_path}/"), "--output:", "--format json given")
    assert_refused(run_cli("lesson", "softmax", "--format", "svg", "--step-only", "1", "-o", f"{tmp_path}/"),
                   "--step-only: makes one picture")


@pytest.mark.parametrize("extension", ["svg", "html"])
def test_a_comparison_exports_as_a_picture_not_as_plain_text(run_cli, tmp_path, extension):
    target = tmp_path / f"vs.{extension}"
    assert run_cli("lesson", "attention", "--vs", "--no-scale", "-o", str(target)).exit_code == 0
    text = target.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg" if extension == "svg" else "<!DOCTYPE html>")
    plain = re.sub(r"<[^>]+>", "", text).replace("&#160;", " ").replace("\xa0", " ")
    assert "--no-scale:" in plain and "attention" in plain
