"""The lm-loss lesson: the next-token loss over a sentence, for two models side by side.

shift (inputs 0…n−2, targets 1…n−1) → softmax at every position → −ln p[target]
→ the mean L and the perplexity e^L against the uniform ln V → the gradient
(p − one-hot)/(n − 1) → (for a trained model) its held-out accuracy and perplexity.

The maths is :mod:`nntutor.core.lm_loss`; the models come from ``--model`` and
``--compare`` (:mod:`nntutor.walkthroughs._model`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.lm_loss import LMLoss, lm_loss, uniform_baseline
from nntutor.core.sampling import rank
from nntutor.errors import InputError
from nntutor.models.threads import on_one_thread
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._model import LessonModel, choose, held_out
from nntutor.walkthroughs._tokens import shown as word

MAX_TOKENS = 256
GRADIENT_ROWS = 5  # tokens listed in the gradient table of one position


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class Scored(NamedTuple):
    model: LessonModel
    tokens: tuple[str, ...]
    ids: np.ndarray


class Inputs(NamedTuple):
    """Checked inputs: the sentence tokenized by each model (at least two tokens, within its context)."""

    text: str
    main: Scored
    other: Scored
    seed: int  # the seed a random model's weights come from


def _scored(flag: str, value: str, seed: int, text: str) -> Scored:
    model = choose(value, seed=seed, flag=flag)
    tokens, ids, unknown = model.encode(text)
    if len(tokens) < 2:
        raise InputError("--text", f"gives {len(tokens)} token{'s' if len(tokens) != 1 else ''}; a loss needs at least 2 (one to read, one to predict)")
    limit = min(model.context or MAX_TOKENS, MAX_TOKENS) + 1  # n − 1 inputs must fit the context
    if len(tokens) > limit:
        raise InputError("--text", f"gives {len(tokens)} tokens; at most {limit} for {flag} {value}")
    return Scored(model, tuple(tokens), ids)


@on_one_thread
def check(args: Args) -> Inputs:
    seed, text = int(args["seed"]), args["text"]
    if not text.split():
        raise InputError("--text", 'has no words (expected a sentence, e.g. "the farmer sat on the bank")')
    return Inputs(text, _scored("--model", args["model"], seed, text), _scored("--compare", args["compare"], seed, text), seed)


# --------------------------------------------------------------------------- build


@on_one_thread
def build(ctx: Context, inputs: Inputs) -> Trace:
    main, other = inputs.main, inputs.other
    a = lm_loss(main.ids, main.model.weights, heads=main.model.heads, eps=main.model.eps)
    b = lm_loss(other.ids, other.model.weights, heads=other.model.heads, eps=other.model.eps)
    trace = ctx.new_trace({"model": main.model.name, "compare": other.model.name, "text": inputs.text, "seed": inputs.seed})
    same = main.tokens == other.tokens
    _shift_step(ctx, trace, main, a)
    _loss_step(ctx, trace, main, a, other, b, same)
    _mean_step(ctx, trace, main, a, other, b)
    _gradient_step(ctx, trace, main, a)
    _held_out_step(ctx, trace, main, other)
    vocab = main.model.vocab
    trace.outputs = {
        "targets": [vocab[int(t)] for t in a.targets],
        "losses": a.losses,
        "loss": a.loss,
        "perplexity": a.perplexity,
    }
    worst = int(np.argmax(a.losses))
    trace.result = answer(trace, "mean.table=the sentence's mean loss L and perplexity e^L, model by model") + [
        Value("costliest", f"position {worst} (predicting '{word(vocab[int(a.targets[worst])])}'): "
              f"−ln p = {ctx.n(a.losses[worst])}, the largest of the {a.losses.size} losses averaged into L",
              label="the costliest prediction"),
    ]
    return trace


def _label(s: Scored) -> str:
    return "trained" if s.model.trained else "untrained"


def _shift_step(ctx: Context, trace: Trace, s: Scored, r: LMLoss) -> None:
    vocab = s.model.vocab
    n = len(s.tokens)
    table = Table(("position", "reads (input)", "must predict (target)"), tuple(
        (i, word(vocab[int(r.inputs[i])]), word(vocab[int(r.targets[i])])) for i in range(n - 1)
    ))
    trace.add(
        Step(
            id="shift",
            title=f"Shift by one: {n} tokens give {n - 1} predictions",
            formula_text=f"inputs = tokens 0…{n - 2},  targets = tokens 1…{n - 1}",
            values=[Value("shift", table, label="each position and the token it is scored on")],
            worked=[
                f"model {s.model.name}: {s.model.about}",
                f"position 0 reads '{word(vocab[int(r.inputs[0])])}' and must predict '{word(vocab[int(r.targets[0])])}'; "
                f"the last token, '{word(vocab[int(s.ids[-1])])}', is only a target",
            ],
            why="One forward pass over the inputs gives a prediction at every position at once; causal "
            "attention keeps each position from seeing its own target. So one sentence is n − 1 "
            "training examples." + see("pipeline"),
        )
    )


def _loss_step(ctx: Context, trace: Trace, s: Scored, r: LMLoss, o: Scored, q: LMLoss, same: bool) -> None:
    n_ = ctx.n
    vocab = s.model.vocab
    p, losses = r.target_probs, r.losses
    columns = ["position", "target", f"p ({_label(s)})", "−ln p"]
    if same:
        columns += [f"p ({_label(o)})", "−ln p "]
    rows = []
    for i in range(r.targets.size):
        row = [i, word(vocab[int(r.targets[i])]), float(p[i]), float(losses[i])]
        if same:
            row += [float(q.target_probs[i]), float(q.losses[i])]
        rows.append(tuple(row))
    i = int(np.argmax(losses))
    sc = r.scored
    z = sc.logits[i]
    t = int(r.targets[i])
    top = float(z.max())
    total = float(np.exp(z - top).sum())
    worked = [
        f"position {i} (the costliest): p['{word(vocab[t])}'] = e^(z − max z) / Σ e^(z − max z) over the {len(vocab)} logits "
        f"= e^({n_(z[t])} − {ctx.f(top)}) / {n_(total)} = {n_(p[i])}; −ln {n_(p[i])} = {n_(losses[i])}",
        f"top token there: '{word(vocab[int(np.argmax(z))])}' with p = {n_(sc.probs[i].max())}",
    ]
    if not same:
        worked.append(f"--compare {o.model.name} cuts the text into other tokens; its totals are in the next step")
    trace.add(
        Step(
            id="losses",
            title="Softmax at each position; the loss is −ln p[target]",
            formula_text="pᵢ = softmax(zᵢ),  lossᵢ = −ln pᵢ[targetᵢ]",
            values=[Value("losses", Table(tuple(columns), tuple(rows)), label="the probability each model gave the right token, and its cost")],
            worked=worked,
            why="−ln p is 0 when the model was sure and right (p = 1) and grows without bound as p → 0, "
            "so a confident mistake costs the most. It is the cross-entropy of the loss lesson, "
            "once per position." + see("loss", "softmax"),
        )
    )


def _mean_step(ctx: Context, trace: Trace, s: Scored, r: LMLoss, o: Scored, q: LMLoss) -> None:
    n_ = ctx.n
    V = len(s.model.vocab)
    lnV, _ = uniform_baseline(V)
    rows = (
        (f"--model {s.model.name} ({_label(s)})", r.loss, r.perplexity),
        (f"--compare {o.model.name} ({_label(o)})", q.loss, q.perplexity),
        (f"uniform over V = {V} tokens", lnV, float(V)),
    )
    if len(o.model.vocab) != V:
        rows = (*rows, (f"uniform over V = {len(o.model.vocab)} tokens", float(np.log(len(o.model.vocab))), float(len(o.model.vocab))))
    count = r.targets.size
    trace.add(
        Step(
            id="mean",
            title=f"Mean loss L = {n_(r.loss)}, perplexity e^L = {n_(r.perplexity)} (uniform: {V})",
            formula_text="L = (1/(n−1))·Σᵢ lossᵢ,   perplexity = e^L;   uniform: L = ln V, perplexity V",
            values=[
                Value("table", Table(("model", "mean loss L", "perplexity e^L"), rows), label="the sentence's loss, model by model"),
                Value("loss", r.loss, label="L"),
                Value("perplexity", r.perplexity, label="e^L"),
            ],
            worked=[
                sum_worked(ctx, "Σ lossᵢ", r.losses, float(r.losses.sum())) + f"; L = that / {count} = {n_(r.loss)}",
                f"e^{n_(r.loss)} = {n_(r.perplexity)}; uniform: ln {V} = {n_(lnV)}, e^(ln {V}) = {V}",
            ],
            why=f"Perplexity {n_(r.perplexity)} means the model was, on average, as unsure as a fair choice "
            f"among {n_(r.perplexity)} tokens. Giving every token 1/{V} scores exactly {V}"
            + (f"; the {_label(o)} model scores {n_(q.perplexity)}, worse than that: its random logits are "
               "confidently wrong" if q.perplexity > V else "")
            + ". Training is what brings it down.",
        )
    )


def _gradient_step(ctx: Context, trace: Trace, s: Scored, r: LMLoss) -> None:
    n_ = ctx.n
    vocab = s.model.vocab
    i = 0
    t = int(r.targets[i])
    count = r.targets.size
    p = r.scored.probs[i]
    g = r.dlogits[i]
    shown = [t, *[int(j) for j in rank(p)[: GRADIENT_ROWS + 1] if int(j) != t][:GRADIENT_ROWS - 1]]
    table = Table(("token", "p", "one-hot", f"(p − one-hot)/{count}"), tuple(
        (word(vocab[j]) + (" (target)" if j == t else ""), float(p[j]), 1 if j == t else 0, float(g[j])) for j in shown
    ))
    trace.add(
        Step(
            id="gradient",
            title=f"The gradient: (p − one-hot)/{count} at every position",
            formula_text=f"∂L/∂zᵢ = (pᵢ − onehot(targetᵢ)) / {count}",
            values=[Value("gradient", table, label=f"position {i} (target '{word(vocab[t])}'): the target and the most probable others")],
            worked=[
                f"target: ({n_(p[t])} − 1) / {count} = {n_(g[t])} (negative: a step against the gradient raises its logit)",
                f"every other token j: pⱼ / {count} > 0 (lowered in proportion to its probability); "
                f"the row sums to 0 (p sums to 1, the one-hot too; here {abs(float(g.sum())):.1e} after rounding)",
            ],
            why="Softmax and −ln together have this simple gradient: each position pulls its target up "
            "by 1 − p and pushes the others down by their p, divided by the number of positions "
            "because L is a mean." + see("backprop-softmax", "train-step"),
        )
    )


def _held_out_step(ctx: Context, trace: Trace, s: Scored, o: Scored) -> None:
    n_ = ctx.n
    rows = []
    # the trained model only: scoring the untrained one too would double the lesson's time, and the
    # sentence above already shows the two side by side
    for flag, m in (("--model", s), ("--compare", o)):
        ev = held_out(m.model) if m.model.trained else None
        if ev is not None:
            rows.append((f"{flag} {m.model.name}", ev.accuracy, ev.perplexity, ev.count))
    if not rows:
        return
    first = rows[0]
    trace.add(
        Step(
            id="held-out",
            title="On sentences it never saw: held-out accuracy and perplexity",
            formula_text="accuracy = share of determined positions where the top token is the target;  perplexity = e^(mean loss)",
            values=[Value("held_out", Table(("model", "top-1 accuracy", "perplexity", "determined positions"), tuple(rows)),
                          label="held-out sentences of the corpus's patterns")],
            worked=[f"{first[0]}: {100 * first[1]:.1f}% of {first[3]} determined positions right (where the grammar "
                    f"allows one next token), perplexity {n_(first[2])} against the uniform {len(s.model.vocab)}"],
            why="A low loss on training text could be memorising; sentences held out of training test "
            "whether the model learned the patterns.",
        )
    )


def script(trace: Trace) -> str:
    """The --model's loss on the text, as NumPy source (``--format py``): its weights are written
    out as literals (the --compare model is shown beside it, not checked)."""
    from nntutor.walkthroughs._script import heading, tiny_model_preamble

    model = choose(trace.inputs["model"], seed=int(trace.inputs["seed"]))
    return "\n".join([
        *tiny_model_preamble(model),
        heading(trace, "shift"),
        "tokens, ids = tokenize(text)",
        "targets = tokens[1:]  # position i reads tokens 0…i, must predict token i + 1",
        "",
        heading(trace, "losses"),
        "probs = softmax_rows(all_logits(ids[:-1]))",
        "losses = -np.log(probs[np.arange(len(targets)), ids[1:]])",
        "",
        heading(trace, "mean"),
        "loss = losses.mean()",
        "perplexity = math.exp(loss)",
        "",
        heading(trace, "gradient"),
        "one_hot = np.eye(len(vocab))[ids[1:]]",
        "gradient = (probs - one_hot) / len(targets)  # ∂L/∂z at every position",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "model": Input("path"),
        "compare": Input("path"),
        "text": Input("text"),
        "seed": Input("integer", minimum=0),
    },
    targets=(Target("mean", "loss", uses=("losses.losses",), symbol="L"), Target("mean", "perplexity", uses=("mean.loss",), symbol="e^L")),
    script=script,
    keep=("model", "compare", "text"),
)
