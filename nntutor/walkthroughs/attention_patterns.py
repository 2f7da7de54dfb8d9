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
from nntutor.walkthroughs._tokens import shown

MAX_TOKENS = 64  # a heatmap of more columns cannot be read at 80 columns anyway


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class Inputs(NamedTuple):
    model: LessonModel
    text: str
    tokens: tuple[str, ...]
    ids: np.ndarray
    seed: int  # the seed a random model's weights come from


def check(args: Args) -> Inputs:
    model = choose(args["model"], seed=int(args["seed"]))
    text = args["text"]
    tokens, ids, unknown = model.encode(text)
    if len(tokens) < 2:
        raise InputError("--text", f"gives {len(tokens)} token{'s' if len(tokens) != 1 else ''}; at least 2 are needed (a pattern is over earlier tokens)")
    limit = min(model.context or MAX_TOKENS, MAX_TOKENS)
    if len(tokens) > limit:
        raise InputError("--text", f"gives {len(tokens)} tokens; at most {limit}")
    return Inputs(model, text, tuple(tokens), ids, int(args["seed"]))


def _habit(s: HeadStats, tokens) -> str:
    habit, _ = describe(s)
    return f"token {s.key} {tokens[s.key]!r}" if habit == "one token" else habit


def _words(s: HeadStats, tokens) -> str:
    habit, value = describe(s)
    if habit == "mixed":
        return f"no clear habit (at most {value:.2f})"
    if habit == "one token":
        return f"looks back at {s.key} '{shown(tokens[s.key])}' ({value:.2f})"
    return f"the {habit} ({value:.2f})" if habit != "itself" else f"itself ({value:.2f})"


def build(ctx: Context, inputs: Inputs) -> Trace:
    model = inputs.model
    n_ = ctx.n
    r = forward(inputs.ids, model.weights, heads=model.heads, eps=model.eps)
    trace = ctx.new_trace({"model": model.name, "text": inputs.text, "seed": inputs.seed})
    labels = tuple(f"{i} {shown(t)}" for i, t in enumerate(inputs.tokens))
    words = tuple(shown(t) for t in inputs.tokens)
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
            f"head 1, one token: column {h0.key} ('{words[h0.key]}') gets the most from the rows below it, "
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
                    *(Value(f"head-{h + 1}", weights[h], label=f"layer {k + 1} head {h + 1} weights (row = the token looking, "
                            "column = the one looked at)", rows=labels, cols=positions, heat=True,
                            detail=k > 0)  # layer 1's heatmaps show how; --full draws the rest
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
        (k, h, _habit(s, words), describe(s)[1]) for k, h, s in flat
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
    trace.result = [Value("habits", Table(("layer", "head", "previous", "first", "itself", "habit"), tuple(
        (k, h, s.previous, s.first, s.itself, _habit(s, words)) for k, h, s in flat
    )), label="each head's average weight on the previous token, the first, itself; and its habit")]
    return trace


def script(trace: Trace) -> str:
    """Every head's weights on the text and their measures, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading, tiny_model_preamble

    model = choose(trace.inputs["model"], seed=int(trace.inputs["seed"]))
    layers = [heading(trace, f"layer-{k + 1}") for k in range(model.layers)]
    return "\n".join([
        *tiny_model_preamble(model),
        "def measures(A):",
        "    \"\"\"Averages over the queries 1…n−1: on the previous token, the first,",
        "    itself; and the key the later queries look back at most (keys 0…n−3),",
        "    with its average.\"\"\"",
        "    n = len(A)",
        "    rows = np.arange(1, n)",
        "    from_later = [A[j + 1:, j].mean() for j in range(max(1, n - 2))]",
        "    key = int(np.argmax(from_later))",
        "    previous, first, itself = A[rows, rows - 1], A[rows, 0], A[rows, rows]",
        "    return previous.mean(), first.mean(), itself.mean(), key, from_later[key]",
        "",
        "",
        *layers,
        "tokens, ids = tokenize(text)",
        "x = E[ids] + positions(len(ids))",
        "previous, first, itself, every_head = [], [], [], []",
        "for layer, w in enumerate(blocks, 1):",
        "    seen = []  # this layer's heads' weights, n × n each",
        "    x = block(x, w, seen)",
        "    stats = [measures(A) for A in seen]",
        "    previous.append([s[0] for s in stats])",
        "    first.append([s[1] for s in stats])",
        "    itself.append([s[2] for s in stats])",
        "    every_head += [(layer, head, s) for head, s in enumerate(stats, 1)]",
        "",
        heading(trace, "summary"),
        "habits = []",
        "for layer, head, (prev, fst, own, key, on_key) in every_head:",
        "    values = [prev, fst, own, on_key if key > 0 else 0.0]  # key 0: first token",
        "    best = int(np.argmax(values))  # ties: the earlier habit",
        "    names = ['previous token', 'first token', 'itself',",
        "             f'token {key} {tokens[key]!r}']",
        f"    habit = names[best] if values[best] >= {CLEAR!r} else 'mixed'",
        "    habits.append(f'layer {layer} head {head}: {habit}')",
    ])


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
    script=script,
    keep=("model", "text"),
)
