"""The glossary behind ``nntutor explain TERM``: the terms the lessons use, as data.

Each term in ``glossary.toml`` (beside this module, shipped in the wheel; read with
``tomllib``, never executed) has a definition of two or three sentences, its formula and
the lessons where it appears. A term is found by its name, an alias or a form, ignoring
case, spaces, ``-`` and ``_``: ``d_k``, ``dk`` and ``D-K`` are the same term. An unknown
term is an error that suggests the closest ones. ``nntutor check`` validates the file
(:func:`problems`): its keys, no term found twice, every ``lessons`` entry a real lesson.

>>> entry = lookup("Layer-Norm")
>>> entry.name, entry.lessons[0], entry.formula
('layer norm', 'layernorm', 'LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β')
>>> key("√d_k"), key(" Top P ")
('√dk', 'topp')
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from nntutor.errors import InputError, LessonFileError

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().with_name("glossary.toml")
MAX_TERM_CHARS = 100
TERM_KEYS: dict[str, type] = {
    "name": str,
    "aliases": list,
    "forms": list,
    "definition": str,
    "formula": str,
    "lessons": list,
}
REQUIRED_TERM_KEYS = ("name", "definition", "formula", "lessons")


class Entry(NamedTuple):
    """One glossary term."""

    name: str
    definition: str
    formula: str
    lessons: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()  # how the lesson files write it

    @property
    def keys(self) -> tuple[str, ...]:
        """Every normalised spelling that finds this term."""
        return tuple(dict.fromkeys(key(text) for text in (self.name, *self.aliases, *self.forms)))


def key(text: str) -> str:
    """A spelling as looked up: case folded, without spaces, ``-``, ``_`` or ``.``."""
    return "".join(ch for ch in text.casefold() if ch not in " -_.\t")


class UnknownTerm(InputError):
    """No glossary term of that name; suggests the closest ones."""

    def __init__(self, term: str, known: dict[str, Entry]) -> None:
        close = difflib.get_close_matches(key(term), list(known), n=3, cutoff=0.6)
        names = list(dict.fromkeys(known[k].name for k in close))
        hint = f"; did you mean {' or '.join(repr(n) for n in names)}?" if names else ""
        super().__init__("term", f"no glossary entry for {term!r}{hint} (nntutor explain lists every term)")
        self.suggestions = names


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LessonFileError(str(path), "", f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise LessonFileError(str(path), "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise LessonFileError(str(path), "", f"is not valid TOML ({exc})") from None


def _entry_problems(where: str, number: int, raw: Any) -> list[LessonFileError]:
    prefix = f"term[{number}]"
    if not isinstance(raw, dict):
        return [LessonFileError(where, prefix, "must be a table")]
    label = f"term.{raw['name']}" if isinstance(raw.get("name"), str) else prefix
    errors = []
    for name in raw:
        if name not in TERM_KEYS:
            errors.append(LessonFileError(where, f"{label}.{name}", "unknown key"))
    for name in REQUIRED_TERM_KEYS:
        if name not in raw:
            errors.append(LessonFileError(where, f"{label}.{name}", "missing (required)"))
    for name, expected in TERM_KEYS.items():
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, expected):
            errors.append(LessonFileError(where, f"{label}.{name}", f"must be a {'list' if expected is list else 'string'}"))
        elif expected is str and not value.strip():
            errors.append(LessonFileError(where, f"{label}.{name}", "must not be empty"))
        elif expected is list and not all(isinstance(item, str) and item.strip() for item in value):
            errors.append(LessonFileError(where, f"{label}.{name}", "must be a list of non-empty strings"))
    if isinstance(raw.get("lessons"), list) and not raw["lessons"]:
        errors.append(LessonFileError(where, f"{label}.lessons", "must name at least one lesson"))
    return errors


def _build(raw: dict[str, Any]) -> Entry:
    return Entry(
        name=raw["name"],
        definition=" ".join(raw["definition"].split()),
        formula=raw["formula"],
        lessons=tuple(raw["lessons"]),
        aliases=tuple(raw.get("aliases", ())),
        forms=tuple(raw.get("forms", ())),
    )


def read_glossary(path: Path | None = None) -> tuple[list[Entry], list[LessonFileError]]:
    """The terms that are valid, and every problem in the file (keys, types, terms found twice).

    ``path``: the glossary file (default: :data:`PATH`, the shipped one).
    """
    path = PATH if path is None else path
    where = str(path)
    data = _read(path)
    errors: list[LessonFileError] = []
    if data.get("format_version") != FORMAT_VERSION:
        errors.append(LessonFileError(where, "format_version", f"must be {FORMAT_VERSION}"))
    terms = data.get("term", [])
    if not isinstance(terms, list):
        return [], [*errors, LessonFileError(where, "term", "must be an array of tables ([[term]])")]
    entries: list[Entry] = []
    owner: dict[str, str] = {}
    for number, raw in enumerate(terms, start=1):
        problems = _entry_problems(where, number, raw)
        if problems:
            errors.extend(problems)
            continue
        entry = _build(raw)
        for spelling in entry.keys:
            if spelling in owner:
                errors.append(
                    LessonFileError(where, f"term.{entry.name}", f"{spelling!r} already finds the term {owner[spelling]!r}")
                )
            owner.setdefault(spelling, entry.name)
        entries.append(entry)
    return entries, errors


@cache
def _index() -> dict[str, Entry]:
    entries, errors = read_glossary()
    if errors:
        raise errors[0]
    index: dict[str, Entry] = {}
    for entry in entries:
        for spelling in entry.keys:
            index.setdefault(spelling, entry)
    return index


def terms() -> list[Entry]:
    """Every term, in alphabetical order."""
    unique = {entry.name: entry for entry in _index().values()}
    return sorted(unique.values(), key=lambda entry: key(entry.name))


def lookup(term: str) -> Entry:
    """The term found by ``term`` (its name, an alias or a form); :class:`UnknownTerm` otherwise."""
    if len(term) > MAX_TERM_CHARS:
        raise InputError("term", f"is {len(term)} characters long; a glossary term has at most {MAX_TERM_CHARS}")
    if not key(term):
        raise InputError("term", "is empty (nntutor explain lists every term)")
    index = _index()
    found = index.get(key(term))
    if found is None:
        raise UnknownTerm(term, index)
    return found


def problems(lesson_names: Iterable[str], path: Path | None = None) -> list[LessonFileError]:
    """What ``nntutor check`` reports about the glossary: the file's problems, and every
    ``lessons`` entry that is not one of ``lesson_names``."""
    path = PATH if path is None else path
    try:
        entries, errors = read_glossary(path)
    except LessonFileError as exc:
        return [exc]
    known = set(lesson_names)
    for entry in entries:
        for lesson in entry.lessons:
            if lesson not in known:
                close = difflib.get_close_matches(lesson, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                errors.append(LessonFileError(str(path), f"term.{entry.name}.lessons", f"no lesson named {lesson!r}{hint}"))
    return errors
