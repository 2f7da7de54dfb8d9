"""How much a quiz answer is worth: hints make a right answer worth less.

A right answer earns 1, less 0.25 for each hint taken, never below 0.25; a wrong,
revealed or skipped answer earns 0. The quiz summary, ``nntutor progress`` and its
JSON all use this rule (the progress store computes it from the ``correct`` and
``hints`` it keeps, with :data:`SQL`).

>>> credit(True, 0), credit(True, 1), credit(True, 2), credit(True, 5), credit(False, 0)
(1.0, 0.75, 0.5, 0.25, 0.0)
"""

from __future__ import annotations

HINT_COST = 0.25
MIN_CREDIT = 0.25
RULE = "a right answer earns 1 point, 0.25 less for each hint taken, but at least 0.25"
SQL = f"(CASE WHEN correct THEN MAX({MIN_CREDIT}, 1 - {HINT_COST} * hints) ELSE 0 END)"
"""The same rule as an SQL expression over the ``answers`` table's ``correct`` and ``hints`` columns."""


def credit(correct: bool, hints: int) -> float:
    """The points one answer earns (see the module's rule)."""
    if not correct:
        return 0.0
    return max(MIN_CREDIT, 1.0 - HINT_COST * hints)

