"""What a walkthrough module declares about its lesson, in one object: :class:`Walkthrough`.

Every lesson module ends with one declaration, the only place code-side facts about
the lesson live (the lesson file holds the data: inputs, defaults, narrative, hints)::

    WALKTHROUGH = Walkthrough(
        check=check,            # Args (each flag parsed on its own) -> the lesson's typed inputs
        build=build,            # (Context, inputs) -> Trace; never raises an input error
        inputs={"x": Input("matrix"), "seq-len": Input("integer", minimum=1, maximum=9000)},
        targets=(Target("scores", "scores"), Target("softmax", "weights")),
        mistakes=(Mistake("no-scale", "forgot to divide the scores by √d_k", _no_scale),),
        keep=("sizes",),        # inputs the quiz leaves at their defaults
    )

``nntutor check`` reads these declarations: the builder named by a lesson file must be
a module with a ``WALKTHROUGH``, the file's inputs must be the ones it declares, of the
same kinds, every target must name a step and value that a run on the defaults
produces, and every mistake must apply to an existing value. The limits declared with
an input hold whatever a lesson file says: a file may narrow them, never lift them.

>>> args = Args({"x": 1.5, "causal": False}, given={"x"})
>>> args["x"], args.given
(1.5, frozenset({'x'}))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple


class Args(dict):
    """Every input of a lesson parsed on its own from its flag (defaults filled in).

    ``given`` names the inputs the learner typed: some lessons decide from it
    (random inputs when only ``--seed`` is given, default labels when only
    ``--x`` is). A walkthrough's ``check`` turns Args into its typed inputs.
    """

    def __init__(self, values: Mapping[str, Any] = (), given: Any = ()) -> None:
        super().__init__(values)
        self.given = frozenset(given)


class Target(NamedTuple):
    """A step value the quiz may ask about; ``rows``/``cols`` restrict the first/second index.

    ``Target("products", "products", rows=(2,))``: only the products row of the neuron's table.

    - ``uses``: what the asked value is computed from, shown with the question instead of
      every input: lesson inputs by name (``"x"``) and earlier step values as
      ``"step.value"`` (``"ln1.y"``). ``None`` (the default): every input.
      ``Target("attention-projections", "q", uses=("attention-projections.attention_input", "wq", "bq"))``
      asks for ``q[1,1]`` next to A, W_Q and b_Q, not next to all twenty inputs of the block.
    - ``explain(case) -> list[str]``: the arithmetic for the element asked (``case.index``),
      ending in its value; shown after a wrong answer (and with the answer). Without it the
      quiz shows the step's own worked example, labelled as such.
    - ``symbol``: the name the question uses for the value (``"h"`` for ``residual1``:
      "compute h[0,2]"); default: the value's name.
    """

    step: str
    value: str
    rows: tuple[int, ...] | None = None
    cols: tuple[int, ...] | None = None
    uses: tuple[str, ...] | None = None
    explain: Callable[[Any], list[str]] | None = None
    symbol: str = ""

    @property
    def key(self) -> str:
        return f"{self.step}.{self.value}"


class Mistake(NamedTuple):
    """A known mistake: ``compute(case)`` recomputes the value it leads to (``None``: does not apply).

    ``values`` names the step values it can explain (``nntutor check`` makes sure they exist).
    ``case`` is a :class:`nntutor.quiz.mistakes.Case`: the asked element, the run's typed
    inputs, and ``case.rerun(field=value)`` to build the lesson again with an input changed.
    """

    id: str
    name: str
    compute: Callable[[Any], float | None]
    values: tuple[str, ...] = ()


class Input(NamedTuple):
    """An input a lesson module reads: its kind (as in a lesson file) and the limits no file can lift.

    ``Input("integer", minimum=1, maximum=1000)``: a whole number from 1 to 1000 (``--steps``).
    The bounds mean what they mean in a lesson file (each entry of a vector or matrix is
    checked); ``above``/``below`` are strict. A choice input lists the choices the module
    knows: a file may offer fewer, never others.
    """

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple[str, ...] = ()

    def bounds(self) -> dict[str, float | None]:
        return {"minimum": self.minimum, "maximum": self.maximum, "above": self.above, "below": self.below}


class Walkthrough(NamedTuple):
    """Everything code-side about one lesson.

    - ``check(args) -> inputs``: every cross-flag rule (shapes that must agree, flags that
      do not go together, sizes that would exhaust memory), raising ``InputError`` that
      names the flag; returns the typed inputs (a NamedTuple) ``build`` works from.
    - ``build(ctx, inputs) -> Trace``: the teaching; it never refuses input.
    - ``inputs``: every input ``check`` reads, name -> :class:`Input` (its kind and limits).
    - ``targets``: the values numeric quiz questions ask about (empty: every computed value).
    - ``mistakes``: the known mistakes a wrong answer is checked against.
    - ``keep``: inputs the quiz does not perturb (sizes, inputs that only go with another choice).
    - ``fixed``: typed input values the quiz always uses (``{"temperature": 1.0}``).
    - ``vary``: choice inputs the quiz draws at random.
    - ``extra(rng, values) -> dict``: more typed values for a quiz run (a fresh target class).
    - ``script(trace) -> str``: the lesson's maths as NumPy source for this run's inputs, for
      ``--format py`` (:mod:`nntutor.render.python_script` writes the frame around it: the
      recorded inputs as variables of the same names, ``d-model`` as ``d_model``, and an
      assert on every output, which the source must leave in a variable of its name). No
      import of nntutor: NumPy, ``math`` and the standard library only. ``None``: no script yet.
    - ``no_script(args) -> str | None``: why ``--format py`` cannot be written for these
      arguments (checked before the run; the CLI refuses ``--format`` with it), or None.
    - ``notice(inputs) -> str | None``: one line the learner should read before ``build``
      starts (what a slow or memory-hungry run will cost); the command line prints it to
      stderr after ``check`` and before ``build``. ``None`` (or a ``None`` result): nothing.
    """

    check: Callable[[Args], Any]
    build: Callable[[Any, Any], Any]
    inputs: Mapping[str, Input] = {}
    targets: tuple[Target, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    keep: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = {}
    vary: tuple[str, ...] = ()
    extra: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None
    script: Callable[[Any], str] | None = None
    notice: Callable[[Any], str | None] | None = None
    no_script: Callable[[Args], str | None] | None = None

