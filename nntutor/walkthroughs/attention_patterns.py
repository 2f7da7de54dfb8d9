"""The attention-patterns lesson: every head's weights on a text, drawn and measured.

One forward pass (:func:`nntutor.core.pipeline.forward`); for each layer, its
heads' weights as heatmaps with the measures of
:mod:`nntutor.core.attention_patterns` (average weight on the previous token,
the first token, itself; how spread out); then every head in one table with the
habit the numbers show.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.attention_patterns import CLEAR, HeadStats, describe, head_stats
from nntutor.core.pipeline import forward
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._model import LessonModel, choose

MAX_TOKENS = 64  # a heatmap of more columns cannot be read at 80 columns anyway


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class Inputs(NamedTuple):
    model: LessonModel
    text: str
    tokens: tuple[str, ...]
    ids: np.ndarray


def check(args: Args) -> Inputs:
    model = choose(args["model"], seed=int(args["seed"]))
    text = args["text"]
    tokens, ids, unknown = model.encode(text)
    if len(tokens) < 2:
        raise InputError("--text", f"gives {len(tokens)} token{'s' if len(tokens) != 1 else ''}; at least 2 are needed (a pattern is over earlier tokens)")
    limit = min(model.context or MAX_TOKENS, MAX_TOKENS)
    if len(tokens) > limit:
        raise InputError("--text", f"gives {len(tokens)} tokens; at most {limit}")
    return Inputs(model, text, tuple(tokens), ids)


def _habit(s: HeadStats, tokens) -> str:
    habit, _ = describe(s)
    return f"token {s.key} {tokens[s.key]!r}" if habit == "one token" else habit


def _words(s: HeadStats, tokens) -> str:
    habit, value = describe(s)
    if habit == "mixed":
        return f"no clear habit (at most {value:.2f})"
    if habit == "one token":
        return f"looks back at {s.key} {tokens[s.key]!r} ({value:.2f})"
    return f"the {habit} ({value:.2f})" if habit != "itself" else f"itself ({value:.2f})"


def build(ctx: Context, inputs: Inputs) -> Trace:
    model = inputs.model
    n_ = ctx.n
    r = forward(inputs.ids, model.weights, heads=model.heads, eps=model.eps)
    trace = ctx.new_trace({"model": model.name, "text": inputs.text})
    labels = tuple(f"{i} {t}" for i, t in enumerate(inputs.tokens))
    positions = tuple(str(i) for i in range(len(inputs.tokens)))
    n = len(inputs.tokens)
    all_stats: list[list[HeadStats]] = []
    for k, b in enumerate(r.blocks):
        weights = b.mha.weights
        stats = [head_stats(w) for w in weights]
        all_stats.append(stats)
        table = Table(("head", "first", "itself", "one token", "spread", "what the numbers say"), tuple(
            (h + 1, s.first, s.itself, f"{s.key_weight:.2f} on {s.key}", s.spread, _words(s, inputs.tokens))
            for h, s in enumerate(stats)
        ))
        h0 = stats[0]
        w0 = weights[0]
        worked = [
            "head 1, previous token: (" + " + ".join(n_(w0[i, i - 1]) for i in range(1, min(n, 5)))
            + (" + …" if n > 5 else "") + f") / {n - 1} = {n_(h0.previous)}",
            f"head 1, first token: mean of column 0 over rows 1…{n - 1} = {n_(h0.first)}; itself: mean of the diagonal = {n_(h0.itself)}",
            f"head 1, one token: column {h0.key} ({inputs.tokens[h0.key]!r}) gets the most from the rows below it, "
            f"mean of A[{h0.key + 1}…{n - 1}, {h0.key}] = {n_(h0.key_weight)}",
        ]
        if k == 0:
            worked.insert(0, f"model {model.name}: {model.about}")
        trace.add(
            Step(
                id=f"layer-{k + 1}",
                title=f"Layer {k + 1}: {model.heads} heads on {n} tokens",
                formula_text="row i = the weights of query i over keys 0…i (sum 1);  previous = mean Aᵢ,ᵢ₋₁, first = mean Aᵢ₀, itself = mean Aᵢᵢ over i = 1…n−1",
                values=[
                    *(Value(f"head-{h + 1}", weights[h], label=f"layer {k + 1}, head {h + 1}: row = the token looking, "
                            "column = the position it looks at", rows=labels, cols=positions, heat=True)
                      for h in range(model.heads)),
                    Value("previous", np.array([s.previous for s in stats]), label=f"layer {k + 1}: average weight on the previous token",
                          cols=tuple(f"head {h + 1}" for h in range(model.heads))),
                    Value("habits", table, label=f"layer {k + 1}: the other measures, and what they say"),
                ],
                worked=worked,
                why=("Row 0 is left out of the averages: it can only see itself. Spread is e^(entropy) "
                     "of a row over the number of keys it may see: 1 when the weight is even, small when "
                     "one key takes it all. 'One token' finds a head that keeps looking back at one "
                     "position, whatever it is." if k == 0 else "") + (see("attention", "multi-head") if k == 0 else ""),
            )
        )
    flat = [(k + 1, h + 1, s) for k, stats in enumerate(all_stats) for h, s in enumerate(stats)]
    summary = Table(("layer", "head", "habit", "average weight"), tuple(
        (k, h, _habit(s, inputs.tokens), describe(s)[1]) for k, h, s in flat
    ))
    clear = [(k, h, s) for k, h, s in flat if describe(s)[0] != "mixed"]
    trace.add(
        Step(
            id="summary",
            title=f"Every head: {len(clear)} of {len(flat)} with a clear habit",
            formula_text=f"habit = the largest of previous, first, itself and one token, when it is at least {CLEAR}",
            values=[Value("summary", summary, label="each head's habit, measured on this text")],
            worked=[f"{len(clear)} of {len(flat)} heads put at least {CLEAR} of their weight, on average, in one place"],
            why="These are measurements on one text: try another --text, and --model random to see "
            "what an untrained model's heads do." + see("pipeline", "generate"),
        )
    )
    trace.outputs = {
        "previous": np.array([[s.previous for s in stats] for stats in all_stats]),
        "first": np.array([[s.first for s in stats] for stats in all_stats]),
        "itself": np.array([[s.itself for s in stats] for stats in all_stats]),
        "habits": [f"layer {k} head {h}: {_habit(s, inputs.tokens)}" for k, h, s in flat],
    }
    return trace


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "model": Input("path"),
        "text": Input("text"),
        "seed": Input("integer", minimum=0),
    },
    # the previous-token weight of layer 1's heads, from their heatmaps (a mean of n − 1 cells)
    targets=(Target("layer-1", "previous", uses=("layer-1.head-1", "layer-1.head-2"), symbol="previous"),),
    keep=("model", "text"),
)
