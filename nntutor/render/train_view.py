"""What ``nntutor train`` shows: a progress bar while it trains, then what it made.

The bar (on stderr, so stdout keeps only the summary) shows the step, the loss of
the last batch, the time spent and the time left. The summary names the file
and explains the two numbers that say whether the model learned.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from nntutor.render.output import emit, make_console


class TrainProgress:
    """A rich progress bar for a training run: ``with TrainProgress(steps) as bar: bar.update(step, loss)``."""

    def __init__(self, steps: int) -> None:
        self._progress = Progress(
            TextColumn("step {task.completed:>5.0f}/{task.total:.0f}"),
            BarColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=make_console(sys.stderr, stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("train", total=steps, loss="…")

    def __enter__(self) -> TrainProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def update(self, step: int, loss: float) -> None:
        self._progress.update(self._task, completed=step, loss=f"{loss:.4f}")


class TrainSummary(NamedTuple):
    """The numbers the summary shows (computed by the caller)."""

    path: str
    steps_done: int
    steps: int
    interrupted: bool
    first_loss: float
    last_loss: float
    seconds: float
    accuracy: float
    determined: int
    perplexity: float
    baseline: float
    floor: float
    command: str


def show_summary(s: TrainSummary) -> None:
    """The result on stdout: where the model is, its loss, and its held-out numbers, each explained."""
    lines = []
    if s.interrupted:
        lines.append(f"Stopped by Ctrl-C after step {s.steps_done} of {s.steps}: the model as it was then is kept.")
    lines += [
        f"Model written to {s.path}",
        f"Trained {s.steps_done} steps in {s.seconds:.1f} s: the loss on a batch fell from "
        f"{s.first_loss:.4f} to {s.last_loss:.4f} (mean −ln p of the next token).",
        f"On {s.determined} held-out positions where the grammar allows one next token, the most "
        f"probable token is right {100 * s.accuracy:.1f}% of the time.",
        f"Held-out perplexity {s.perplexity:.3f}: as unsure as a choice among {s.perplexity:.2f} tokens, "
        f"against {s.baseline:.0f} for a model that knows nothing (every token equally likely) and "
        f"{s.floor:.3f} for one that knows the grammar perfectly (where it leaves a choice open).",
        f"Retrain the same model: {s.command}",
        f"Use it: nntutor lesson pipeline --model {s.path}",
    ]
    emit(*(Text(line) for line in lines))
