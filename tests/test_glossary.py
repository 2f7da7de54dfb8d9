"""``nntutor explain TERM``: the glossary is data, checked against the lesson files it names."""

from __future__ import annotations

import re
import tomllib

import pytest

from nntutor.catalog import glossary
from nntutor.catalog.lessonfile import builtin_lessons_dir, load_all
from tests.helpers import assert_refused

LESSONS = load_all()
ORDER = [lesson.name for lesson in LESSONS]
FILES = {path.stem: path.read_text(encoding="utf-8") for path in builtin_lessons_dir().glob("*.toml")}
TERMS = glossary.terms()
# Lessons written after the glossary: they may use a term without being listed under it yet.
NEWER_THAN_THE_GLOSSARY = set(ORDER) - {
    "neuron", "activations", "layer", "mlp", "softmax", "loss", "gradient-descent", "backprop", "training",
    "tiny-mlp", "bpe", "embedding", "positional-encoding", "attention", "multi-head", "layernorm", "ffn",
    "transformer-block", "next-token", "pipeline", "backprop-softmax", "backprop-layernorm", "backprop-attention",
}


def _written_in(form: str, text: str) -> bool:
    """``form`` appears in ``text`` as a word; short or upper-case forms (δ, LN, BPE) must match case
    too, so LN is not the natural log ln and δ not Δ."""
    flags = re.IGNORECASE if len(form) >= 3 and any(ch.islower() for ch in form) else 0
    return re.search(r"(?<![\w])" + re.escape(form) + r"(?![\w])", text, flags) is not None


def test_at_least_40_terms_and_the_ones_learners_ask_about():
    assert len(TERMS) >= 40
    asked = {
        "logit": "logit", "d_k": "d_k", "residual": "residual connection", "δ": "δ", "delta": "δ",
        "query": "query, key, value", "key": "query, key, value", "value": "query, key, value",
        "layer norm": "layer norm", "LayerNorm": "layer norm", "temperature": "temperature", "merge": "merge",
        "epoch": "epoch", "gradient": "gradient", "dk": "d_k", "top p": "top-p",
    }
    for typed, name in asked.items():
        assert glossary.lookup(typed).name == name, typed


@pytest.mark.parametrize("entry", TERMS, ids=[entry.name for entry in TERMS])
def test_every_lesson_listed_writes_the_term(entry):
    """Each lesson a term lists writes one of its forms, and they are listed in course order.

    (Not the converse: a new lesson needs no glossary edit, as CONTRIBUTING promises. The
    lists were complete for the 23 lessons the glossary was written with.)
    """
    assert entry.forms, entry.name
    for lesson in entry.lessons:
        assert any(_written_in(form, FILES[lesson]) for form in entry.forms), (entry.name, lesson)
    assert list(entry.lessons) == sorted(entry.lessons, key=ORDER.index)


def test_a_term_learners_meet_everywhere_lists_every_lesson_that_writes_it():
    """For the terms the brief names, the list is complete as well."""
    for name in ("logit", "d_k", "residual connection", "δ", "layer norm", "temperature", "merge", "epoch"):
        entry = glossary.lookup(name)
        using = [lesson for lesson in ORDER if any(_written_in(form, FILES[lesson]) for form in entry.forms)]
        assert set(using) <= set(entry.lessons) | NEWER_THAN_THE_GLOSSARY, (name, sorted(set(using) - set(entry.lessons)))


@pytest.mark.parametrize("entry", TERMS, ids=[entry.name for entry in TERMS])
def test_each_definition_is_two_or_three_sentences_with_a_formula(entry):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(εδσ])", entry.definition) if s.strip()]
    assert 2 <= len(sentences) <= 3, (entry.name, sentences)
    assert entry.definition.endswith(".") and entry.formula.strip()


def test_explain_d_k(run_cli):
    result = run_cli("explain", "d_k")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("d_k  (also: dk, key dimension, √d_k)")
    assert "the dot product of two vectors of d_k independent components" in " ".join(out.split())
    assert "  S′ = Q·Kᵀ / √d_k" in out
    assert "In the lessons: attention, backprop-attention" in out
    assert "See it computed: nntutor lesson attention" in out


def test_explain_takes_a_term_of_several_words_in_any_spelling(run_cli):
    for argv in (("layer", "norm"), ("Layer-Norm",), ("layernorm",)):
        result = run_cli("explain", *argv)
        assert result.exit_code == 0 and result.stdout.startswith("layer norm"), argv


def test_explain_without_a_term_lists_every_term(run_cli):
    result = run_cli("explain")
    assert result.exit_code == 0
    assert f"Glossary: {len(TERMS)} terms the lessons use" in result.stdout
    for entry in TERMS:
        assert entry.name in result.stdout


@pytest.mark.parametrize(
    ("typed", "fragments"),
    [
        ("logti", ("term: no glossary entry for 'logti'; did you mean 'logit'",)),
        ("softmx", ("did you mean 'softmax'?",)),
        ("zzzqqq", ("no glossary entry for 'zzzqqq' (nntutor explain lists every term)",)),
        ("x" * 5000, ("term: is 5000 characters long; a glossary term has at most 100",)),
        (" - ", ("term: is empty",)),
    ],
)
def test_an_unknown_term_is_one_line_and_exit_2(run_cli, typed, fragments):
    assert_refused(run_cli("explain", typed), *fragments)


def _glossary_file(tmp_path, body: str):
    path = tmp_path / "glossary.toml"
    path.write_text("format_version = 1\n" + body, encoding="utf-8")
    return path


def test_check_names_a_lesson_the_glossary_gets_wrong(tmp_path):
    path = _glossary_file(
        tmp_path,
        '[[term]]\nname = "logit"\nforms = ["logit"]\ndefinition = "A raw score. Softmax makes it a probability."\n'
        'formula = "p = softmax(z)"\nlessons = ["softmax", "attentoin"]\n',
    )
    (problem,) = glossary.problems(ORDER, path)
    assert str(problem) == f"{path}: term.logit.lessons: no lesson named 'attentoin'; did you mean 'attention'?"


def test_check_reports_the_glossary_with_exit_2(run_cli, tmp_path, monkeypatch):
    path = _glossary_file(tmp_path, '[[term]]\nname = "logit"\ndefinition = "x. y."\nformula = "z"\nlessons = ["nosuch"]\n')
    monkeypatch.setattr(glossary, "PATH", path)
    result = run_cli("check")
    assert result.exit_code == 2
    assert f"{path}: term.logit.lessons: no lesson named 'nosuch'" in result.stderr


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[[term]]\nname = "a"\nformula = "f"\nlessons = ["neuron"]\n', "term.a.definition: missing (required)"),
        ('[[term]]\nname = "a"\ndefinition = "d. e."\nformula = "f"\nlessons = ["neuron"]\nsee = "x"\n', "term.a.see: unknown key"),
        ('[[term]]\nname = "a"\ndefinition = "d. e."\nformula = "f"\nlessons = []\n', "term.a.lessons: must name at least one lesson"),
        (
            '[[term]]\nname = "a b"\ndefinition = "d. e."\nformula = "f"\nlessons = ["neuron"]\n'
            '[[term]]\nname = "A-B"\ndefinition = "d. e."\nformula = "f"\nlessons = ["neuron"]\n',
            "term.A-B: 'ab' already finds the term 'a b'",
        ),
    ],
)
def test_glossary_file_problems_name_the_key(tmp_path, body, fragment):
    path = _glossary_file(tmp_path, body)
    assert any(str(p) == f"{path}: {fragment}" for p in glossary.problems(ORDER, path)), glossary.problems(ORDER, path)


def test_the_shipped_glossary_is_valid_toml_inside_the_package():
    assert glossary.PATH.parent.name == "catalog" and glossary.PATH.parent.parent.name == "nntutor"
    data = tomllib.loads(glossary.PATH.read_text(encoding="utf-8"))
    assert data["format_version"] == glossary.FORMAT_VERSION
    assert glossary.problems(ORDER) == []
