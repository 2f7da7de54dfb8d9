"""The worked computation of one lesson, as plain data.

A walkthrough builds a :class:`Trace`; a renderer turns it into text, Markdown or
JSON. Nothing here knows about rich, Typer or the rest of the project, so a
trace can be inspected, tested and serialised on its own.

Example (what the softmax walkthrough produces, abridged)::

    Trace(lesson="softmax", title="Softmax", inputs={"logits": [2.0, 1.0, 0.1]},
          steps=[Step(id="exp", title="Exponentials",
                      formula=r"e^{z_i - \\max z}", formula_text="e^(zᵢ − max z)",
                      values=[Value("exp", array([1.0, 0.3679, 0.1496]))],
                      worked=["e^(1 − 2) = e^-1 = 0.3679"],
                      why="Exponentials are positive, so every probability is too.")],
          outputs={"probs": array([0.659, 0.2424, 0.0986])})

Immutable records here and in ``nntutor.core`` are ``NamedTuple`` classes: on
Python 3.11 defining one takes about 0.15 ms against 1 ms for a frozen
dataclass, and every lesson run defines a dozen or more before it computes
anything. :class:`Step` and :class:`Trace`, which grow as a walkthrough runs,
are dataclasses; so is :class:`Table`, a kind of data that renderers must tell
apart from a plain tuple.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Table:
    """A table whose cells mix text and numbers (e.g. BPE pair counts).

    ``Table(columns=("pair", "count"), rows=(("e s", 9), ("s t", 9)))``
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


class Deferred:
    """A matrix that a step shows but does not keep: its rows are computed when asked for.

    For big inputs some intermediate matrices (attention's scaled and masked
    scores, its exponentials) are as large as the outputs and cheap to compute
    again. Keeping them would raise a run's peak memory by one n×n array each; a
    Deferred keeps only how to compute them (from arrays the trace holds anyway).
    The terminal computes the few rows it shows; anything needing every value
    (``np.asarray(d)``: JSON, Markdown, the quiz) computes them all, with the
    same arithmetic, so the numbers are identical.

    ``rows(indices)`` must return those rows (a 2-D float64 array) for a list
    of row indices or a slice.

    >>> import numpy as np
    >>> square = np.arange(6.0).reshape(3, 2)
    >>> d = Deferred((3, 2), lambda rows: square[rows] ** 2)
    >>> d.shape, d.rows([2]).tolist(), float(np.asarray(d).sum()), float(d[1, 1])
    ((3, 2), [[16.0, 25.0]], 55.0, 9.0)
    """

    __slots__ = ("shape", "_rows")

    def __init__(self, shape: tuple[int, int], rows: Any) -> None:
        self.shape = tuple(int(n) for n in shape)
        self._rows = rows

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def rows(self, indices: Any) -> Any:
        return self._rows(indices)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        full = self._rows(slice(None))
        return full if dtype is None else full.astype(dtype)

    def __getitem__(self, key: Any) -> Any:
        row, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(row, int):
            return self._rows([row])[(0, *rest)]
        return self.__array__()[key]

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"Deferred(shape={self.shape})"


def concrete(data: Any) -> Any:
    """``data`` itself, or every row of it when it is :class:`Deferred` (an array)."""
    return data.__array__() if isinstance(data, Deferred) else data


KINDS = ("text", "scalar", "vector", "matrix", "stack", "table", "mapping", "labels", "rows", "ragged", "other")


def classify(data: Any) -> str:
    """What kind of value ``data`` is, decided once for every renderer and the quiz.

    ``text`` a string; ``scalar`` one number; ``vector``/``matrix``/``stack`` a 1-, 2- or
    3-D numeric array (a :class:`Deferred` is a matrix); ``table`` a :class:`Table`;
    ``mapping`` a dict; ``labels`` a list of strings; ``rows`` a list of rows holding
    text (BPE merges); ``ragged`` a list of items shown one by one: arrays of different
    shapes, or mappings (one per layer: ``[{"W": …, "b": …}, …]``, which NumPy would
    otherwise count as a vector of objects); ``other`` anything else (``None``, an
    array of four or more dimensions).

    >>> import numpy as np
    >>> [classify(x) for x in (0.5, "a", np.zeros(3), np.zeros((2, 2)), ["a", "b"], [[1, 2], [3]], None)]
    ['scalar', 'text', 'vector', 'matrix', 'labels', 'ragged', 'other']
    >>> classify([{"W": np.eye(2), "b": np.zeros(2)}, {"W": np.eye(2), "b": np.zeros(2)}])
    'ragged'
    """
    import numpy as np

    if isinstance(data, str):
        return "text"
    if data is None:
        return "other"
    if isinstance(data, Deferred):
        return "matrix"
    if isinstance(data, Table):
        return "table"
    if isinstance(data, dict):
        return "mapping"
    if isinstance(data, (list, tuple)) and data:
        if all(isinstance(item, str) for item in data):
            return "labels"
        if all(isinstance(row, (list, tuple)) for row in data) and any(
            isinstance(cell, str) for row in data for cell in row
        ):
            return "rows"
        if any(isinstance(item, dict) for item in data):
            return "ragged"
        if not any(isinstance(item, str) for item in data) and len({np.shape(item) for item in data}) > 1:
            return "ragged"
    try:
        ndim = np.ndim(data)
    except (TypeError, ValueError):
        return "other"
    return {0: "scalar", 1: "vector", 2: "matrix", 3: "stack"}.get(ndim, "other")


class Value(NamedTuple):
    """One named value a step produced, kept at full precision.

    ``data`` is a NumPy array (vector or matrix), a Python number, a string, a
    :class:`Table`, or a list/dict of those; :attr:`kind` says which
    (:func:`classify`). ``rows`` and ``cols`` label a matrix's rows and columns
    (a vector uses ``cols``); ``label`` is the name shown to the learner when it
    differs from the key. ``heat`` marks values that read best as a heatmap
    (attention weights, encodings). ``key`` names the columns a table too wide for
    the terminal keeps whatever it leaves out (the one the step's text talks about).
    ``detail`` marks a value a default terminal run names but does not draw (a slice
    of a matrix already shown, an intermediate the worked lines spell out): ``--full``
    draws it; exports and the quiz always have it.
    """

    name: str
    data: Any
    label: str = ""
    rows: tuple[str, ...] | None = None
    cols: tuple[str, ...] | None = None
    heat: bool = False
    key: tuple[int, ...] = ()
    detail: bool = False

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def kind(self) -> str:
        """``scalar``, ``vector``, ``matrix``, ``table`` … (see :func:`classify`)."""
        return classify(self.data)


class Series(NamedTuple):
    """One line of a plot: ``y`` against ``x`` (computed values, never made up).

    ``style`` is how it is drawn: ``""`` (the plot's kind), ``"path"`` (a connected
    line with a mark at each point, e.g. a descent path) or ``"contour"`` (a faint
    line of equal height; the legend lists the contour lines together).
    """

    name: str
    x: Any
    y: Any
    style: str = ""


class Plot(NamedTuple):
    """A line plot a step wants drawn, e.g. an activation curve or the loss per epoch.

    ``kind`` is ``"line"`` or ``"scatter"`` (points). ``frame`` is the part of the
    plane drawn, ``(x_min, x_max, y_min, y_max)``; without it the plot spans every series.
    """

    title: str
    series: tuple[Series, ...]
    xlabel: str = ""
    ylabel: str = ""
    kind: str = "line"
    frame: tuple[float, float, float, float] | None = None


class Network(NamedTuple):
    """A small layered network drawn as a diagram: nodes with their values, edges with their weights.

    ``layers`` names the nodes of each layer, input first; ``values`` holds the number
    at each node (same shape); ``weights[l]`` is the matrix from layer ``l`` to ``l + 1``,
    shape (len(layers[l + 1]) × len(layers[l])): row i holds node i's incoming weights
    (``W·x + b``). ``notes`` labels each layer (``"input x"``, ``"hidden h = ReLU(W1·x + b1)"``);
    ``biases[l]`` holds the biases of layer ``l + 1``'s nodes. A step puts it in its ``plots``; it is drawn from these numbers only.

    >>> net = Network("2-1", (("x1", "x2"), ("y",)), ((1.0, 2.0), (0.5,)), ((((0.1, 0.2),),)))
    >>> len(net.layers), net.weights[0][0][1]
    (2, 0.2)
    """

    title: str
    layers: tuple[tuple[str, ...], ...]
    values: tuple[tuple[float, ...], ...]
    weights: tuple[Any, ...]
    notes: tuple[str, ...] = ()
    biases: tuple[Any, ...] = ()


@dataclass
class Step:
    """One stage of a lesson: what was computed, how, and why.

    ``formula`` is LaTeX (for Markdown); ``formula_text`` is the same formula in
    plain Unicode (for the terminal). ``worked`` holds at least one element
    worked out in full arithmetic, e.g. ``"q2·k1 = 0.2×1 + 0.3×0 + 1×0.5 = 0.7"``.
    ``detail`` marks a step a default terminal run leaves out (one more round of a rule
    already shown, a check): ``--full`` shows it, and every export and the quiz keep it.
    """

    id: str
    title: str
    formula: str = ""
    formula_text: str = ""
    values: list[Value] = field(default_factory=list)
    worked: list[str] = field(default_factory=list)
    why: str = ""
    warnings: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    detail: bool = False

    def value(self, name: str) -> Value:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(f"step {self.id!r} has no value {name!r}")


class LessonLink(NamedTuple):
    """Another lesson as a lesson's ending points to it: its number in the course, name and title.

    ``LessonLink(2, "activations", "Activation functions and their slopes")``
    """

    number: int
    name: str
    title: str


class WhatNext(NamedTuple):
    """Where a lesson leads, shown after its result: this lesson's number in a course of
    ``total``, the lesson after it (None after the last), the lessons its file names in
    ``see_also`` and the glossary terms it uses (``nntutor explain TERM``). The quiz for this
    lesson is ``nntutor quiz <trace.lesson>``.
    """

    number: int
    total: int
    next_lesson: LessonLink | None
    see_also: tuple[LessonLink, ...] = ()
    terms: tuple[str, ...] = ()


@dataclass
class Trace:
    """A whole lesson run: its inputs, ordered steps and public outputs.

    ``inputs`` holds every input the computation used (random ones included),
    so any run can be reproduced. ``outputs`` are the lesson's public contract:
    their names are read by scripts and autograders. ``narrative`` is the
    lesson's introduction, shown before the steps. ``what_next``, when set (by
    the command that shows the lesson), is the course around it: never an output.
    ``result`` is the lesson's answer as the learner reads it, labelled as in the steps
    (``Value("weights", w, rows=tokens, cols=tokens)``): the Result section shows it
    instead of ``outputs``, whose names are for scripts.
    """

    lesson: str
    title: str
    narrative: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    warnings: list[str] = field(default_factory=list)
    what_next: WhatNext | None = None
    result: list[Value] = field(default_factory=list)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(f"trace {self.lesson!r} has no step {step_id!r}")

    def add(self, step: Step) -> Step:
        if any(s.id == step.id for s in self.steps):
            raise ValueError(f"duplicate step id {step.id!r}")
        self.steps.append(step)
        return step
