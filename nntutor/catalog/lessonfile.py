"""Lesson files: find them, read them (data only), validate them, find their builder.

A lesson is one TOML file in ``lessons/`` (shipped inside the package) or in a
teacher's folder given with ``--lessons-dir`` / ``NNTUTOR_LESSONS``; a file in a
teacher's folder replaces the built-in lesson of the same name. Files are read
with ``tomllib`` and never executed. Each names a *builder*: the lesson module
``nntutor.walkthroughs.<builder>`` (see :mod:`nntutor.catalog.registry`);
:mod:`nntutor.catalog.check` validates every reference from a file into code.

A file is read only when it is a regular file of at most 256 KB inside its
folder; TOML nested too deeply, a symbolic-link loop, an unreadable file or
folder and a name too long are each one :class:`~nntutor.errors.LessonFileError`
naming the file. Control characters in a file's text (title, narrative, hints,
help, quiz items) are kept escaped (``\x1b``), so a file cannot drive the
learner's terminal.

>>> lesson = load_lesson("neuron")
>>> lesson.title, [spec.flag for spec in lesson.inputs][:3]
('A single neuron', ['--x', '--w', '--b'])
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from nntutor.catalog import registry
from nntutor.catalog.reading import FileProblem, read_limited
from nntutor.errors import InputError, LessonFileError
from nntutor.escapes import escape_controls

FORMAT_VERSION = 1
MAX_LESSON_BYTES = 256 * 1024
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
INPUT_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,31}")
# Flags every lesson command has; a lesson input may not reuse them.
RESERVED_FLAGS = frozenset(
    {"format", "output", "o", "precision", "help", "lessons-dir", "version", "step", "vs", "full", "no-plot", "practice", "from-step"}
)

LESSON_KEYS = {
    "format_version": int,
    "name": str,
    "title": str,
    "part": str,
    "order": int,
    "summary": str,
    "builder": str,
    "narrative": str,
    "hints": list,
    "inputs": list,
    "quiz": list,
    "see_also": list,
    "requires": list,
    "vs_examples": list,
}
REQUIRED_LESSON_KEYS = ("format_version", "name", "title", "part", "order", "summary", "builder", "narrative")
INPUT_KEYS = {
    "name": str,
    "kind": str,
    "default": object,
    "help": str,
    "choices": list,
    "minimum": (int, float),
    "maximum": (int, float),
    "above": (int, float),
    "below": (int, float),
    "metavar": str,
}
REQUIRED_INPUT_KEYS = ("name", "kind", "help")
QUIZ_KEYS = {
    "id": str,
    "kind": str,
    "prompt": str,
    "choices": list,
    "answer": object,
    "explanation": str,
    "tolerance": (int, float),
    "hint": str,
}
REQUIRED_QUIZ_KEYS = ("id", "kind", "prompt", "answer", "explanation")
QUIZ_KINDS = ("choice", "number")


class InputSpec(NamedTuple):
    """One lesson input, which becomes the flag ``--<name>``."""

    name: str
    kind: str
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    metavar: str = ""

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def default_text(self) -> str:
        """The default as a learner would type it (shown in ``--help``)."""
        value = self.default
        if value is None:
            return ""
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, list):
            if value and all(isinstance(row, list) for row in value):
                return ";".join(",".join(_plain(x) for x in row) for row in value)
            return ",".join(_plain(x) for x in value)
        return _plain(value)


def _plain(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x)) if abs(x) < 1e15 else repr(x)
    return str(x)


class QuizItem(NamedTuple):
    """A conceptual question written in the lesson file."""

    id: str
    kind: str
    prompt: str
    answer: Any
    explanation: str
    choices: tuple[str, ...] = ()
    tolerance: float | None = None
    hint: str = ""  # the question's own hint (shown on ``hint``); the lesson's hints are for its numeric questions


class Lesson(NamedTuple):
    """A lesson file, read and validated."""

    name: str
    title: str
    part: str
    order: int
    summary: str
    builder: str
    narrative: str
    path: Path
    inputs: tuple[InputSpec, ...] = ()
    hints: tuple[str, ...] = ()
    quiz: tuple[QuizItem, ...] = ()
    see_also: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # lessons to study first (checked across files by nntutor check)
    vs_examples: tuple[str, ...] = ()  # flags for --vs that show something, e.g. "--no-scale" (its --help lists them)

    def input(self, name: str) -> InputSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """Every input's parsed default (``None`` where there is none)."""
        return {spec.name: default_value(spec) for spec in self.inputs}


def default_value(spec: InputSpec) -> Any:
    if spec.default is None:
        return False if spec.kind == "flag" else None
    from nntutor.catalog.inputs import parse_input  # NumPy: only when a lesson's inputs are parsed

    return parse_input(spec, spec.default)


# --------------------------------------------------------------------------- finding


def builtin_lessons_dir() -> Path:
    """``nntutor/lessons`` in an installed wheel; the repository's ``lessons/`` otherwise."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "lessons"
    if packaged.is_dir():
        return packaged
    return package.parent / "lessons"


def lesson_dirs(extra: str | os.PathLike | None = None) -> list[Path]:
    """Folders to look in, most specific first: ``extra``, ``$NNTUTOR_LESSONS``, built-in."""
    dirs: list[Path] = []
    for candidate in (extra, os.environ.get("NNTUTOR_LESSONS")):
        if candidate:
            for part in str(candidate).split(os.pathsep):
                if part:
                    dirs.append(Path(part))
    dirs.append(builtin_lessons_dir())
    return dirs


def _check_dir(path: Path) -> None:
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise LessonFileError(str(path), "", "lessons folder does not exist") from None
    except OSError as exc:  # a name too long, a loop of symbolic links
        raise LessonFileError(str(path), "", f"lessons folder cannot be used ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(mode):
        raise LessonFileError(str(path), "", "is not a folder (expected a folder of lesson .toml files)")


def _toml_files(folder: Path) -> list[Path]:
    """The ``*.toml`` entries of ``folder``, sorted; a folder that cannot be listed is an error, not empty."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry in entries if entry.name.endswith(".toml"))
    except OSError as exc:
        raise LessonFileError(str(folder), "", f"lessons folder cannot be read ({exc.strerror or exc})") from None
    return [folder / name for name in names]


def lesson_files(dirs: list[Path]) -> dict[str, Path]:
    """Lesson name -> file, earlier folders overriding later ones (names from file names only)."""
    found: dict[str, Path] = {}
    for folder in reversed(dirs):
        _check_dir(folder)
        for path in _toml_files(folder):
            if NAME_PATTERN.fullmatch(path.stem) and _inside(path, folder):
                found[path.stem] = path
    return found


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path`` really lives in ``folder`` (a symbolic link out of it, or a loop, does not)."""
    return _outside_reason(path, folder) is None


def _outside_reason(path: Path, folder: Path) -> str | None:
    """Why ``path`` is not a file of ``folder`` (``None`` when it is)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except RuntimeError:  # Python 3.11 reports a loop of symbolic links so
        return "is a loop of symbolic links (not followed)"
    except OSError as exc:
        return f"cannot be resolved ({exc.strerror or exc})"
    except ValueError:
        return "is a link out of its folder (not followed)"
    try:
        if not path.is_file():
            return "is not a regular file (a folder, a pipe or a device)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def find_lesson_file(name: str, dirs: list[Path]) -> Path:
    """The file for lesson ``name``, in any case (``Attention`` is ``attention``); reads no other lesson."""
    key = name.lower()  # lesson file names are lower case (NAME_PATTERN)
    if not NAME_PATTERN.fullmatch(key):
        raise InputError("lesson", f"{name!r} is not a lesson name (letters, digits and '-')")
    for folder in dirs:
        _check_dir(folder)
        path = folder / f"{key}.toml"
        # listed, not stat-ed: a folder that cannot be read is an error, never "not there"
        if path in _toml_files(folder) and _inside(path, folder):
            return path
    raise UnknownLesson(name, sorted(lesson_files(dirs)))


class UnknownLesson(InputError):
    """No lesson of that name; suggests the closest names."""

    def __init__(self, name: str, known: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(name.lower(), known, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        super().__init__("lesson", f"no lesson named {name!r}{hint} (see: nntutor list)")
        self.suggestions = close


def load_lesson(name: str, extra_dir: str | os.PathLike | None = None) -> Lesson:
    """Find and read one lesson by name."""
    return read_lesson_file(find_lesson_file(name, lesson_dirs(extra_dir)))


def scan(
    extra_dir: str | os.PathLike | None = None, *, check_inputs: bool = True
) -> tuple[list[Lesson], list[LessonFileError]]:
    """Every readable lesson in teaching order, and the first problem of each broken file.

    One broken file never hides the others: ``nntutor list`` shows it as broken, with the reason.
    ``check_inputs=False`` (for listing names and summaries) skips checking input
    kinds and parsing defaults, which needs NumPy; running a lesson
    (:func:`load_lesson`) and ``nntutor check`` always check them.
    """
    lessons: list[Lesson] = []
    broken: list[LessonFileError] = []
    for path in lesson_files(lesson_dirs(extra_dir)).values():
        try:
            lessons.append(read_lesson_file(path, check_inputs=check_inputs))
        except LessonFileError as exc:
            broken.append(exc)
    return sorted(lessons, key=lambda lesson: (lesson.order, lesson.name)), broken


def load_all(extra_dir: str | os.PathLike | None = None, *, check_inputs: bool = True) -> list[Lesson]:
    """Every lesson that can be read, in teaching order (broken files: see :func:`scan`)."""
    return scan(extra_dir, check_inputs=check_inputs)[0]


# --------------------------------------------------------------------------- reading


def read_lesson_file(path: Path, *, check_inputs: bool = True) -> Lesson:
    """Read and validate one lesson file; the first problem raises ``LessonFileError``."""
    data = _read_toml(path)  # parsed once, for both validating and building
    errors = _validated(path, data, check_inputs=check_inputs)
    if errors:
        raise errors[0]
    return _build_lesson(path, data)


_TOO_DEEP = "is nested too deeply (arrays or tables inside each other)"


def _validated(path: Path, data: dict[str, Any], *, check_inputs: bool = True) -> list[LessonFileError]:
    """:func:`validate_data`, with a value nested too deeply to check reported as a problem of the file."""
    try:
        return validate_data(path, data, check_inputs=check_inputs)
    except RecursionError:
        return [LessonFileError(str(path), "", _TOO_DEEP)]


def _read_toml(path: Path) -> dict[str, Any]:
    where = str(path)
    try:
        data = read_limited(path, MAX_LESSON_BYTES)
    except FileProblem as problem:
        raise LessonFileError(where, "", str(problem)) from None
    if b"\x00" in data:
        raise LessonFileError(where, "", "looks binary (expected a TOML text file)")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise LessonFileError(where, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise LessonFileError(where, "", f"is not valid TOML ({exc})") from None
    except RecursionError:
        raise LessonFileError(where, "", _TOO_DEEP) from None


def _type_name(expected: Any) -> str:
    if expected is object:
        return "any value"
    if isinstance(expected, tuple):
        return " or ".join(_type_name(e) for e in expected)
    return {str: "a string", int: "an integer", list: "a list", float: "a number"}.get(expected, str(expected))


def _check_table(
    where: str, prefix: str, table: Any, keys: dict[str, Any], required: tuple[str, ...]
) -> list[LessonFileError]:
    errors: list[LessonFileError] = []
    if not isinstance(table, dict):
        return [LessonFileError(where, prefix, "must be a table")]
    for key in table:
        if key not in keys:
            import difflib

            close = difflib.get_close_matches(key, list(keys), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(LessonFileError(where, f"{prefix}{key}", f"unknown key{hint}"))
    for key in required:
        if key not in table:
            errors.append(LessonFileError(where, f"{prefix}{key}", "missing (required)"))
    for key, expected in keys.items():
        if key in table and expected is not object:
            value = table[key]
            ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
            if not ok:
                errors.append(LessonFileError(where, f"{prefix}{key}", f"must be {_type_name(expected)}"))
            elif isinstance(value, str) and key not in ("metavar",) and value.strip() == "":
                errors.append(LessonFileError(where, f"{prefix}{key}", "must not be empty"))
    return errors


def validate_file(path: Path) -> list[LessonFileError]:
    """Every problem in one lesson file (empty when it is valid)."""
    try:
        data = _read_toml(path)
    except LessonFileError as exc:
        return [exc]
    return _validated(path, data)


def validate_data(path: Path, data: dict[str, Any], *, check_inputs: bool = True) -> list[LessonFileError]:
    """Every problem in the parsed contents ``data`` of the lesson file ``path``.

    ``check_inputs=False`` leaves out input kinds and defaults (see :func:`scan`).
    """
    where = str(path)
    errors = _check_table(where, "", data, LESSON_KEYS, REQUIRED_LESSON_KEYS)
    if errors:
        return errors
    if data["format_version"] != FORMAT_VERSION:
        errors.append(
            LessonFileError(where, "format_version", f"is {data['format_version']}; this nntutor reads version {FORMAT_VERSION}")
        )
    if data["name"] != path.stem:
        errors.append(LessonFileError(where, "name", f"is {data['name']!r} but the file is named {path.name!r}"))
    if not NAME_PATTERN.fullmatch(data["name"]):
        errors.append(LessonFileError(where, "name", "must be lower-case letters, digits and '-'"))
    if data["builder"] not in registry.builders():
        import difflib

        close = difflib.get_close_matches(data["builder"], registry.builders(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        errors.append(LessonFileError(where, "builder", f"no walkthrough named {data['builder']!r}{hint}"))
    for key in ("hints", "vs_examples"):
        for number, text in enumerate(data.get(key, []), start=1):
            if not isinstance(text, str) or not text.strip():
                errors.append(LessonFileError(where, f"{key}[{number}]", "must be a non-empty string"))
    for key in ("requires", "see_also"):
        for number, other in enumerate(data.get(key, []), start=1):
            if not isinstance(other, str) or not NAME_PATTERN.fullmatch(other):
                errors.append(LessonFileError(where, f"{key}[{number}]", "must be a lesson name (lower-case letters, digits and '-')"))
    seen: set[str] = set()
    for number, raw in enumerate(data.get("inputs", []), start=1):
        prefix = f"inputs[{number}]."
        problems = _check_table(where, prefix, raw, INPUT_KEYS, REQUIRED_INPUT_KEYS)
        if problems:
            errors.extend(problems)
            continue
        name = raw["name"]
        label = f"inputs.{name}"
        if not INPUT_NAME_PATTERN.fullmatch(name):
            errors.append(LessonFileError(where, label, "name must be letters, digits and '-' (it becomes --name)"))
            continue
        if name in seen:
            errors.append(LessonFileError(where, label, "duplicate input name"))
        if name in RESERVED_FLAGS:
            errors.append(LessonFileError(where, label, f"--{name} is a flag every lesson already has"))
        seen.add(name)
        for bound in ("minimum", "maximum", "above", "below"):
            if bound in raw and math.isnan(raw[bound]):
                errors.append(LessonFileError(where, f"{label}.{bound}", "is NaN (expected a number)"))
        if not check_inputs:
            continue
        from nntutor.catalog import inputs as input_parsing  # NumPy: only when defaults are parsed

        if raw["kind"] not in input_parsing.KINDS:
            errors.append(
                LessonFileError(where, f"{label}.kind", f"{raw['kind']!r} is not one of {', '.join(input_parsing.KINDS)}")
            )
            continue
        if raw["kind"] == "choice" and not raw.get("choices"):
            errors.append(LessonFileError(where, f"{label}.choices", "a choice input needs a list of choices"))
            continue
        spec = _build_input(raw)
        if spec.default is not None:
            try:
                input_parsing.parse_input(spec, spec.default)
            except InputError as exc:
                errors.append(LessonFileError(where, f"{label}.default", f"does not parse: {exc.message}"))
    quiz_ids: set[str] = set()
    for number, raw in enumerate(data.get("quiz", []), start=1):
        prefix = f"quiz[{number}]."
        problems = _check_table(where, prefix, raw, QUIZ_KEYS, REQUIRED_QUIZ_KEYS)
        if problems:
            errors.extend(problems)
            continue
        label = f"quiz.{raw['id']}"
        if raw["id"] in quiz_ids:
            errors.append(LessonFileError(where, label, "duplicate quiz id"))
        quiz_ids.add(raw["id"])
        if raw["kind"] not in QUIZ_KINDS:
            errors.append(LessonFileError(where, f"{label}.kind", f"must be one of {', '.join(QUIZ_KINDS)}"))
        elif raw["kind"] == "choice":
            choices = raw.get("choices", [])
            if len(choices) < 2:
                errors.append(LessonFileError(where, f"{label}.choices", "a choice question needs at least 2 choices"))
            elif not (isinstance(raw["answer"], int) and 1 <= raw["answer"] <= len(choices)):
                errors.append(LessonFileError(where, f"{label}.answer", f"must be the number of a choice (1–{len(choices)})"))
        elif isinstance(raw["answer"], bool) or not isinstance(raw["answer"], (int, float)):
            errors.append(LessonFileError(where, f"{label}.answer", "must be a number"))
        elif not math.isfinite(raw["answer"]):
            errors.append(LessonFileError(where, f"{label}.answer", f"is {raw['answer']} (expected a finite number)"))
        if "tolerance" in raw and not (math.isfinite(raw["tolerance"]) and raw["tolerance"] >= 0):
            errors.append(LessonFileError(where, f"{label}.tolerance", f"is {raw['tolerance']} (expected a finite number, 0 or more)"))
    return errors


def reflow(text: str) -> str:
    """Join a TOML multi-line string's lines into paragraphs (blank lines separate them).

    >>> reflow("One line\\nand its tail.\\n\\nNext paragraph.\\n")
    'One line and its tail.\\n\\nNext paragraph.'
    """
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def _build_input(raw: dict[str, Any]) -> InputSpec:
    return InputSpec(
        name=raw["name"],
        kind=raw["kind"],
        help=escape_controls(raw["help"]),
        default=raw.get("default"),
        choices=tuple(raw.get("choices", ())),
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
        above=raw.get("above"),
        below=raw.get("below"),
        metavar=escape_controls(raw.get("metavar", "")),
    )


def _build_lesson(path: Path, data: dict[str, Any]) -> Lesson:
    """The validated ``data`` as a :class:`Lesson`, its text with control characters escaped."""
    shown = escape_controls
    return Lesson(
        name=data["name"],
        title=shown(data["title"]),
        part=shown(data["part"]),
        order=data["order"],
        summary=shown(data["summary"]),
        builder=data["builder"],
        narrative=shown(reflow(data["narrative"])),
        path=path,
        inputs=tuple(_build_input(raw) for raw in data.get("inputs", [])),
        hints=tuple(shown(hint) for hint in data.get("hints", [])),
        quiz=tuple(
            QuizItem(
                id=shown(raw["id"]),
                kind=raw["kind"],
                prompt=shown(raw["prompt"]),
                answer=raw["answer"],
                explanation=shown(raw["explanation"]),
                choices=tuple(shown(str(choice)) for choice in raw.get("choices", ())),
                tolerance=raw.get("tolerance"),
                hint=raw.get("hint", ""),
            )
            for raw in data.get("quiz", [])
        ),
        see_also=tuple(data.get("see_also", [])),
        requires=tuple(data.get("requires", [])),
        vs_examples=tuple(data.get("vs_examples", [])),
    )


def check_all(extra_dir: str | os.PathLike | None = None) -> tuple[int, list[LessonFileError]]:
    """Validate every lesson file in every folder: (files checked, problems)."""
    errors: list[LessonFileError] = []
    count = 0
    for folder in lesson_dirs(extra_dir):
        try:
            _check_dir(folder)
        except LessonFileError as exc:
            errors.append(exc)
            continue
        try:
            paths = _toml_files(folder)
        except LessonFileError as exc:
            errors.append(exc)
            continue
        for path in paths:
            count += 1
            if not NAME_PATTERN.fullmatch(path.stem):
                errors.append(LessonFileError(str(path), "", "file name must be lower-case letters, digits and '-'"))
                continue
            reason = _outside_reason(path, folder)
            if reason is not None:
                errors.append(LessonFileError(str(path), "", reason))
                continue
            errors.extend(validate_file(path))
    return count, errors
