"""The course: every lesson in teaching order, numbered, with what it requires and what follows.

The order is each lesson file's ``order`` (ties by name, as :func:`lessonfile.scan` sorts);
lesson 1 is the first. A file's optional ``requires`` list names the lessons to study
first. For a learner who has studied some lessons, the *next lesson* is the first one in
order not yet studied whose requirements are all studied. A requirement that names no
lesson is left out here (``nntutor check`` reports it, as :func:`reference_problems`).

Only top-level keys are used, so a course is built from ``scan(check_inputs=False)``:
no NumPy.

>>> course = Course(lessonfile.load_all(check_inputs=False))
>>> course.number("neuron"), course.after("neuron").name
(1, 'activations')
>>> course.next_lesson(set()).name, course.next_lesson({"neuron"}).name
('neuron', 'activations')
>>> course.unmet(course.lesson("mlp"), {"neuron", "layer"})
('activations',)
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from nntutor.catalog import lessonfile
from nntutor.catalog.lessonfile import Lesson
from nntutor.errors import LessonFileError
from nntutor.trace import LessonLink, WhatNext


class Place(NamedTuple):
    """One lesson of the course as a learner stands with it (a row of the map and the list).

    ``score`` is (right, asked) over every quiz answer on the lesson, None if never quizzed;
    ``unmet`` the numbers of the lessons it requires that are not studied yet.
    """

    number: int
    name: str
    title: str
    part: str
    summary: str
    studied: bool
    score: tuple[int, int] | None
    unmet: tuple[int, ...]
    is_next: bool


class Course:
    """The lessons in teaching order (as :func:`lessonfile.scan` returns them), numbered from 1."""

    def __init__(self, lessons: Sequence[Lesson]) -> None:
        self.lessons = list(lessons)
        self._number = {lesson.name: number for number, lesson in enumerate(self.lessons, start=1)}

    def __len__(self) -> int:
        return len(self.lessons)

    def lesson(self, name: str) -> Lesson:
        return self.lessons[self._number[name] - 1]

    def number(self, name: str) -> int | None:
        """The lesson's place in the course (1 for the first), None for a lesson not in it."""
        return self._number.get(name)

    def after(self, name: str) -> Lesson | None:
        """The lesson that follows ``name`` in teaching order (None after the last)."""
        number = self._number.get(name)
        return self.lessons[number] if number is not None and number < len(self.lessons) else None

    def unmet(self, lesson: Lesson, studied: Collection[str]) -> tuple[str, ...]:
        """The lessons ``lesson`` requires that are not studied yet (unknown names left out)."""
        return tuple(name for name in lesson.requires if name in self._number and name not in studied)

    def next_lesson(self, studied: Collection[str]) -> Lesson | None:
        """The first lesson not studied whose requirements are studied; None when every one is.

        If none is ready (requirements in a cycle, which ``nntutor check`` reports), the
        first lesson not studied.
        """
        waiting = [lesson for lesson in self.lessons if lesson.name not in studied]
        ready = (lesson for lesson in waiting if not self.unmet(lesson, studied))
        return next(ready, waiting[0] if waiting else None)

    def places(self, studied: Collection[str], scores: Mapping[str, tuple[int, int]]) -> list[Place]:
        """Every lesson with the learner's marks: studied, quiz score, unmet requirements, next."""
        upcoming = self.next_lesson(studied)
        return [
            Place(
                number, lesson.name, lesson.title, lesson.part, lesson.summary, lesson.name in studied,
                scores.get(lesson.name), tuple(sorted(self._number[name] for name in self.unmet(lesson, studied))),
                upcoming is not None and lesson.name == upcoming.name,
            )
            for number, lesson in enumerate(self.lessons, start=1)
        ]

    def link(self, name: str) -> LessonLink:
        return LessonLink(self._number[name], name, self.lesson(name).title)

    def what_next(self, lesson: Lesson) -> WhatNext | None:
        """The ending of ``lesson``: the lesson after it and its other ``see_also`` lessons (those that exist).

        None for a lesson that is not in this course.
        """
        number = self._number.get(lesson.name)
        if number is None:
            return None
        following = self.after(lesson.name)
        shown = {lesson.name, following.name if following is not None else lesson.name}
        see_also = tuple(self.link(name) for name in dict.fromkeys(lesson.see_also) if name in self._number and name not in shown)
        return WhatNext(number, len(self.lessons), None if following is None else self.link(following.name), see_also)


# --------------------------------------------------------------------------- nntutor check


def reference_problems(lessons: Iterable[Lesson], known: Collection[str]) -> list[LessonFileError]:
    """Each ``requires`` or ``see_also`` entry that names no lesson in ``known``, and each cycle of requirements.

    A cycle is reported once, on the file of its first lesson in teaching order.

    >>> import pathlib
    >>> def lesson(name, order, requires):
    ...     return Lesson(name, name, "part", order, "", name, "", pathlib.Path(f"{name}.toml"), requires=requires)
    >>> [str(p) for p in reference_problems([lesson("a", 1, ("c",)), lesson("b", 2, ("a", "zz")), lesson("c", 3, ("b",))], {"a", "b", "c"})]
    ["b.toml: requires: 'zz' names no lesson (see: nntutor list)", 'a.toml: requires: a cycle: a needs c, c needs b, b needs a (none of them can come first)']
    """
    lessons = sorted(lessons, key=lambda lesson: (lesson.order, lesson.name))
    problems: list[LessonFileError] = []
    for lesson in lessons:
        for key in ("requires", "see_also"):
            for name in getattr(lesson, key):
                if name == lesson.name:
                    problems.append(LessonFileError(str(lesson.path), key, f"names the lesson itself ({name!r})"))
                elif name not in known:
                    close = difflib.get_close_matches(name, list(known), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else "see: nntutor list"
                    problems.append(LessonFileError(str(lesson.path), key, f"{name!r} names no lesson ({hint})"))
    by_name = {lesson.name: lesson for lesson in lessons}
    for cycle in _cycles(by_name):
        steps = ", ".join(f"{a} needs {b}" for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True))
        problems.append(
            LessonFileError(str(by_name[cycle[0]].path), "requires", f"a cycle: {steps} (none of them can come first)")
        )
    return problems


def _cycles(by_name: Mapping[str, Lesson]) -> list[tuple[str, ...]]:
    """Cycles of requirements (at least one in every knot), each once, starting at its first
    lesson in ``by_name``'s order.

    Depth first from each lesson in order, with a stack of its own (a long chain of files
    cannot exhaust Python's recursion limit); a requirement met again on the current path
    closes a cycle.
    """
    found: dict[frozenset[str], tuple[str, ...]] = {}
    position = {name: index for index, name in enumerate(by_name)}
    done: set[str] = set()
    for start in by_name:
        if start in done:
            continue
        path = [start]
        pending = [iter(by_name[start].requires)]
        while pending:
            required = next(pending[-1], None)
            if required is None:
                done.add(path.pop())
                pending.pop()
            elif required not in by_name or required == path[-1] or required in done:
                continue  # unknown and self-requiring entries are reported on their own
            elif required in path:
                cycle = path[path.index(required):]
                first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
                found.setdefault(frozenset(cycle), tuple(cycle[first:] + cycle[:first]))
            else:
                path.append(required)
                pending.append(iter(by_name[required].requires))
    return sorted(found.values(), key=lambda cycle: position[cycle[0]])


def load_course(extra_dir=None) -> tuple[Course, list[LessonFileError]]:
    """The course from every readable lesson file (NumPy-free), and the files that cannot be read."""
    lessons, broken = lessonfile.scan(extra_dir, check_inputs=False)
    return Course(lessons), broken
