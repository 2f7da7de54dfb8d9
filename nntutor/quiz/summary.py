"""The score of a quiz: right answers and points per lesson and per kind of step, and what to review.

Points follow :mod:`nntutor.study.credit`: a right answer earns 1, 0.25 less for each
hint taken (at least 0.25).

>>> summarise(QuizResult([], 0, 0)).correct
0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nntutor.quiz.session import Outcome, QuizResult


@dataclass(frozen=True)
class Tally:
    name: str
    correct: int
    answered: int  # right or wrong (not skipped)
    asked: int  # also counts revealed and skipped
    credit: float = 0.0  # points: hints make a right answer worth less

    @property
    def text(self) -> str:
        return f"{self.correct}/{self.asked}"


def _tally(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> list[Tally]:
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    return [
        Tally(name, sum(o.correct for o in group), sum(o.answer is not None for o in group), len(group), sum(o.credit for o in group))
        for name, group in groups.items()
    ]


@dataclass(frozen=True)
class Summary:
    correct: int
    asked: int
    total: int
    by_lesson: list[Tally]
    by_step: list[Tally]
    review: list[str]  # item prompts to review next (wrong, revealed or skipped)
    credit: float = 0.0  # points earned (see nntutor.study.credit)
    hinted: int = 0  # right answers given after a hint
    rule: str = ""  # the credit rule, in words


def summarise(result: QuizResult) -> Summary:
    outcomes = result.outcomes
    by_step = _tally(outcomes, lambda o: f"{o.question.lesson}: {o.question.step_title}")
    review = []
    for outcome in outcomes:
        if not outcome.correct:
            why = "revealed" if outcome.revealed else "skipped" if outcome.skipped else "wrong"
            review.append(f"{outcome.question.lesson} · {outcome.question.step_title} ({why})")
    from nntutor.study.credit import RULE

    return Summary(
        credit=sum(o.credit for o in outcomes),
        hinted=sum(o.correct and o.hints > 0 for o in outcomes),
        rule=RULE,
        correct=sum(o.correct for o in outcomes),
        asked=len(outcomes),
        total=result.total,
        by_lesson=_tally(outcomes, lambda o: o.question.lesson),
        by_step=sorted(by_step, key=lambda t: (t.correct / t.asked if t.asked else 1, t.name)),
        review=list(dict.fromkeys(review)),
    )
