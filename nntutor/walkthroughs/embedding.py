"""The embedding lesson: token → id → row of E, cosine similarity, analogies.

Default run (the built-in toy table, 6 words × 4 named dimensions): the sentence
"man king woman queen" has ids [2, 0, 3, 1]; king − man + woman =
[0.9, −0.9, 0.6, 0], whose nearest other word is queen (cosine 0.9929).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import embedding as emb
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer, dot_worked, index_labels
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough

DEFAULT_ANALOGY = "king-man+woman"
MAX_CELLS = 2_000_000  # numbers in every table this lesson builds, together (16 MB as float64)
MAX_LISTED = 20  # vocabulary words named in an error message


def _vocab_list(vocab: tuple[str, ...]) -> str:
    shown = ", ".join(vocab[:MAX_LISTED])
    if len(vocab) > MAX_LISTED:
        shown += f", … ({len(vocab) - MAX_LISTED} more)"
    return shown


class Inputs(NamedTuple):
    """Checked inputs: the embedding table, the tokens to look up, and the analogy (if any)."""

    vocab: tuple[str, ...]  # one word per row of E, all distinct
    E: np.ndarray  # the embedding matrix (len(vocab) × d)
    dims: tuple[str, ...]  # names of E's columns (royal, male, age, food for the toy table)
    toy: bool  # whether E comes from the built-in toy table
    tokens: tuple[str, ...]  # the sentence's words, each in vocab
    analogy: str | None  # the analogy expression as shown; None: no analogy
    terms: tuple[tuple[int, str], ...]  # its signed words, ((1, 'king'), (-1, 'man'), …); () with no analogy


def _table(args: Args) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...], bool]:
    """The vocabulary, E, the dimension names, and whether the toy table is used."""
    vocab, E = args["vocab"], args["E"]
    if vocab is not None:
        seen: set[str] = set()
        for word in vocab:
            if word in seen:
                raise InputError("--vocab", f"{word!r} appears twice (each word needs its own row of E)")
            seen.add(word)
            if any(ch.isspace() for ch in word):
                raise InputError("--vocab", f"{word!r} contains a space (sentences are split on spaces)")
            if "+" in word or "-" in word:
                raise InputError("--vocab", f"{word!r} contains '+' or '-', which --analogy reads as signs")
    if E is None:
        if vocab is None:
            return emb.TOY_VOCAB, emb.TOY_E.copy(), emb.TOY_DIMS, True
        missing = [w for w in vocab if w not in emb.TOY_VOCAB]
        if missing:
            raise InputError(
                "--vocab",
                f"{missing[0]!r} has no row in the built-in table ({', '.join(emb.TOY_VOCAB)}); "
                "give --E with one row per word",
            )
        rows = [emb.TOY_VOCAB.index(w) for w in vocab]
        return tuple(vocab), emb.TOY_E[rows].copy(), emb.TOY_DIMS, True
    if vocab is None:
        raise InputError("--E", "needs --vocab to name its rows (one word per row, e.g. --vocab king,queen)")
    if E.shape[0] != len(vocab):
        raise InputError(
            "--E", f"has {E.shape[0]} rows but --vocab names {len(vocab)} words (expected one row per word)"
        )
    return tuple(vocab), E, index_labels(E.shape[1], "d"), False


def _tokens(args: Args, vocab: tuple[str, ...]) -> tuple[str, ...]:
    sentence = args["sentence"]
    if sentence is None:
        default = emb.tokenize(emb.TOY_SENTENCE)
        if all(w in vocab for w in default):
            return default
        return vocab[:8]
    tokens = emb.tokenize(sentence)
    if not tokens:
        raise InputError("--sentence", "has no words (expected words separated by spaces, e.g. 'man king')")
    for word in tokens:
        if word not in vocab:
            raise InputError("--sentence", f"{word!r} is not in the vocabulary: {_vocab_list(vocab)}")
    return tokens


def _analogy_terms(args: Args, vocab: tuple[str, ...]) -> tuple[str, tuple[tuple[int, str], ...]] | None:
    text = args["analogy"]
    if text is None:
        terms = emb.parse_analogy(DEFAULT_ANALOGY)
        if all(word in vocab for _, word in terms):
            return DEFAULT_ANALOGY, terms
        return None
    try:
        terms = emb.parse_analogy(text)
    except emb.AnalogySyntaxError as exc:
        raise InputError("--analogy", f"{exc} (expected words joined by + and -, e.g. king-man+woman)") from None
    for _, word in terms:
        if word not in vocab:
            raise InputError("--analogy", f"{word!r} is not in the vocabulary: {_vocab_list(vocab)}")
    return text.strip(), terms


def _check_size(n_tokens: int, vocab_size: int, dims: int) -> None:
    """Refuse up front what would take too much memory (and far more as JSON or text)."""
    cells = n_tokens * vocab_size * 2 + n_tokens * n_tokens * 3 + n_tokens * dims * 2 + vocab_size * dims * 2
    if cells > MAX_CELLS:
        raise InputError(
            "--sentence",
            f"{n_tokens:,} tokens with {vocab_size:,} words make about {cells:,} numbers "
            f"({human_bytes(cells * 8)} in memory, several times that as JSON) for the one-hot rows and "
            f"the {n_tokens:,}×{n_tokens:,} similarity table; at most {MAX_CELLS:,}: use a shorter sentence",
        )


def check(args: Args) -> Inputs:
    """The table (built-in rows or --E named by --vocab), the sentence and the analogy checked against it.

    >>> from nntutor.catalog.run import parse_args
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> inputs = check(parse_args(load_lesson("embedding"), {"vocab": "king,man,woman,queen"}))
    >>> inputs.tokens, inputs.analogy, inputs.terms
    (('man', 'king', 'woman', 'queen'), 'king-man+woman', ((1, 'king'), (-1, 'man'), (1, 'woman')))
    """
    vocab, E, dims, toy = _table(args)
    tokens = _tokens(args, vocab)
    analogy_request = _analogy_terms(args, vocab)
    _check_size(len(tokens), len(vocab), E.shape[1])
    analogy, terms = analogy_request if analogy_request is not None else (None, ())
    return Inputs(vocab, E, dims, toy, tokens, analogy, terms)


def _signed(ctx: Context, sign: int, x: float, first: bool) -> str:
    if first:
        return ctx.n(x) if sign > 0 else f"−{ctx.f(x)}"
    return f"{'+' if sign > 0 else '−'} {ctx.f(x)}"


def build(ctx: Context, inputs: Inputs) -> Trace:
    vocab, E, dims, toy, tokens = inputs.vocab, inputs.E, inputs.dims, inputs.toy, inputs.tokens
    n, f = ctx.n, ctx.f

    looked = emb.lookup(vocab, E, tokens)
    sim = emb.similarity_matrix(looked.vectors)
    trace = ctx.new_trace(
        {
            "vocab": list(vocab),
            "E": E,
            "sentence": " ".join(tokens),
            "analogy": inputs.analogy,
        }
    )
    if toy:
        trace.summary = (trace.summary + " " if trace.summary else "") + (
            "Using the built-in toy table: its dimensions are named royal, male, age and food."
        )

    # 1. token -> id
    token_rows = tuple((p, tok, int(i)) for p, (tok, i) in enumerate(zip(tokens, looked.ids, strict=True)))
    first_tok, first_id = tokens[0], int(looked.ids[0])
    trace.add(
        Step(
            id="ids",
            title="Give each token its id",
            formula=r"\mathrm{id}(t) = \text{row of } t \text{ in the vocabulary}",
            formula_text="id(t) = the row number of token t in the vocabulary",
            values=[
                Value("vocabulary", Table(("id", "word"), tuple((i, w) for i, w in enumerate(vocab)))),
                Value("ids", Table(("position", "token", "id"), token_rows), label="token → id"),
            ],
            worked=[f"{tok!r} is word {i} of the vocabulary, so id({tok}) = {i}" for _, tok, i in token_rows[:1]],
            why="A network cannot do arithmetic on words, only on numbers. The id is just an address: "
            "id 2 is not 'twice' id 1. Meaning lives in the row of E the id points to.",
        )
    )

    # 2. one-hot row times E selects a row
    hot = looked.one_hot[0]
    col = 0
    worked = [
        f"onehot({first_tok}) = [{', '.join(n(x) for x in hot[:12])}{', …' if hot.size > 12 else ''}] "
        f"(a 1 at position {first_id})",
        dot_worked(ctx, f"(onehot({first_tok})·E)[{dims[col]}]", hot, E[:, col], looked.product[0, col]),
        f"every zero discards a row, so onehot({first_tok})·E = row {first_id} of E = "
        f"[{', '.join(n(x) for x in looked.vectors[0])}]",
    ]
    trace.add(
        Step(
            id="lookup",
            title="Look up each token's row of E",
            formula=r"\mathbf{x}_t = \mathrm{onehot}(\mathrm{id}(t))\,E = E_{\mathrm{id}(t),:}",
            formula_text="xₜ = onehot(id(t))·E = row id(t) of E",
            values=[
                Value("E", E, label="E (one row per word)", rows=vocab, cols=dims),
                # the worked lines show one selection; the others are rows of E the same way
                Value("one_hot", looked.one_hot, label="one-hot rows", rows=tokens, cols=vocab, detail=True),
                Value("vectors", looked.vectors, label="looked-up vectors", rows=tokens, cols=dims, detail=True),
            ],
            worked=worked,
            why="Multiplying by a one-hot row is a row selection, so frameworks skip the multiplication "
            "and index E directly; but it shows that E is an ordinary weight matrix, trained like any other.",
        )
    )

    # 3. cosine similarity of the looked-up vectors
    pair = _worked_pair(tokens, looked.ids, sim)
    warnings = []
    zero_words = sorted({tok for tok, z in zip(tokens, sim.zero_rows, strict=True) if z})
    for word in zero_words:
        warnings.append(
            f"{word!r} has the zero vector: its length is 0, so its cosine with any word is 0/0, "
            "undefined (shown as NaN). It has no direction to compare."
        )
    sim_worked: list[str] = []
    if pair is not None:
        i, j = pair
        a, b = looked.vectors[i], looked.vectors[j]
        ta, tb = tokens[i], tokens[j]
        sim_worked = [
            dot_worked(ctx, f"{ta}·{tb}", a, b, sim.dots[i, j]),
            f"|{ta}| = √({' + '.join(f'{f(x)}²' for x in a[:8])}{' + …' if a.size > 8 else ''}) = {n(sim.norms[i])}",
            f"|{tb}| = √({' + '.join(f'{f(x)}²' for x in b[:8])}{' + …' if b.size > 8 else ''}) = {n(sim.norms[j])}",
            f"cos({ta}, {tb}) = {n(sim.dots[i, j])} / ({n(sim.norms[i])} × {n(sim.norms[j])}) = {n(sim.similarity[i, j])}",
        ]
    else:
        sim_worked = ["every vector here is zero, so no cosine is defined"]
    trace.add(
        Step(
            id="similarity",
            title="Compare the vectors by cosine similarity",
            formula=r"\cos(\mathbf{a}, \mathbf{b}) = \frac{\mathbf{a}\cdot\mathbf{b}}{\lVert\mathbf{a}\rVert\,\lVert\mathbf{b}\rVert}",
            formula_text="cos(a, b) = a·b / (|a| |b|)",
            values=[
                Value("norms", sim.norms, label="lengths |x|", cols=tokens, detail=True),  # two worked below
                Value("similarity", sim.similarity, label="cosine similarity", rows=tokens, cols=tokens, heat=True),
            ],
            worked=sim_worked,
            why="Dividing by both lengths leaves only the angle: 1 means the same direction, 0 unrelated "
            "(at right angles), −1 opposite. Words used in similar contexts end up pointing the same way.",
            warnings=warnings,
        )
    )

    # 4. analogy
    analogy_out = None
    if inputs.analogy is None:
        trace.warnings.append(
            "No analogy: --analogy was not given and the vocabulary lacks king, man or woman "
            "(try e.g. --analogy with three of your words)."
        )
    else:
        result = emb.analogy(vocab, E, inputs.terms)
        analogy_out = _analogy_step(ctx, trace, vocab, E, dims, inputs.analogy, result)
    trace.outputs = {
        "ids": [int(i) for i in looked.ids],
        "vectors": looked.vectors,
        "similarity": sim.similarity,
        "analogy": analogy_out,
    }
    trace.result = answer(trace, "similarity.similarity", "analogy.ranking")
    return trace


def _worked_pair(tokens: tuple[str, ...], ids: np.ndarray, sim: emb.Similarity) -> tuple[int, int] | None:
    """The first two different words with a defined cosine (else a defined diagonal cell)."""
    count = len(tokens)
    for i in range(count):
        for j in range(i + 1, count):
            if ids[i] != ids[j] and not sim.undefined[i, j]:
                return i, j
    for i in range(count):
        if not sim.undefined[i, i]:
            return i, i
    return None


def _analogy_step(
    ctx: Context,
    trace: Trace,
    vocab: tuple[str, ...],
    E: np.ndarray,
    dims: tuple[str, ...],
    text: str,
    result: emb.Analogy,
) -> dict[str, Any]:
    n = ctx.n
    labels = tuple(f"{'+' if s > 0 else '−'}{w}" for s, w in result.terms)
    worked = []
    for d, name in enumerate(dims[:1]):  # the first dimension; the table's last row has the others
        parts = " ".join(
            _signed(ctx, s, E[vocab.index(w), d], k == 0) for k, (s, w) in enumerate(result.terms)
        )
        worked.append(f"{name}: {parts} = {n(result.vector[d])}" + (", and the same for every dimension" if len(dims) > 1 else ""))
    warnings = []
    if not np.any(result.vector):
        warnings.append(
            "The result is the zero vector: it has no direction, so its cosine with every word is "
            "undefined and nothing can be ranked."
        )
    if result.undefined and np.any(result.vector):
        warnings.append(
            f"Left out of the ranking (zero vector, cosine undefined): {', '.join(result.undefined)}."
        )
    zero_inputs = [w for w in result.excluded if math.isnan(result.cosines[vocab.index(w)]) and np.any(result.vector)]
    if zero_inputs:
        warnings.append(f"Zero vector, cosine undefined (NaN): {', '.join(zero_inputs)}.")
    if not result.ranking and np.any(result.vector) and not result.undefined:
        warnings.append("Every word of the vocabulary is in the expression, so none is left to rank.")
    if result.ranking:
        best, best_cos = result.ranking[0]
        b = vocab.index(best)
        worked.append(dot_worked(ctx, f"result·{best}", result.vector, E[b], float(result.dots[b])))
        worked.append(
            f"cos(result, {best}) = {n(float(result.dots[b]))} / ({n(result.norm)} × {n(float(result.norms[b]))}) "
            f"= {n(best_cos)}"
        )
    excluded_rows = tuple(
        (w, float(result.cosines[vocab.index(w)])) for w in result.excluded
    )
    excluded_text = ", ".join(result.excluded)
    why = (
        f"The expression's words ({excluded_text}) are left out of the ranking, as usual: the result is "
        "built from them and often stays closest to one. "
        + _analogy_reading(ctx, vocab, E, result)
    )
    if excluded_rows and result.ranking:
        top_excluded = max((c for _, c in excluded_rows if not math.isnan(c)), default=math.nan)
        if not math.isnan(top_excluded) and top_excluded > result.ranking[0][1]:
            why += f" Here an excluded word would have come first (cosine {n(top_excluded)})."
    trace.add(
        Step(
            id="analogy",
            title=f"Analogy: {text}",
            formula=r"\mathbf{r} = \sum_k s_k\,\mathbf{x}_{w_k},\quad \text{rank } w \notin \{w_k\} \text{ by } \cos(\mathbf{r}, \mathbf{x}_w)",
            formula_text="r = Σ ±x_w over the words of the expression; rank the other words by cos(r, x_w)",
            values=[
                Value(
                    "terms",
                    np.vstack([result.term_vectors, result.vector[None, :]]),
                    label="signed rows and their sum",
                    rows=labels + ("= result",),
                    cols=dims,
                ),
                Value("vector", result.vector, label="result vector", cols=dims, detail=True),  # the table's last row
                Value(
                    "ranking",
                    Table(("rank", "word", "cosine"), tuple((r + 1, w, c) for r, (w, c) in enumerate(result.ranking))),
                    label="nearest words (expression words excluded)",
                ),
                Value("excluded", Table(("word", "cosine"), excluded_rows), label="excluded words, for comparison"),
            ],
            worked=worked,
            why=why,
            warnings=warnings,
        )
    )
    return {
        "expression": text,
        "vector": result.vector,
        "ranking": [[w, c] for w, c in result.ranking],
        "excluded": list(result.excluded),
    }


def _expression(terms) -> str:
    """((1, 'king'), (-1, 'man'), (1, 'woman')) -> 'king − man + woman'."""
    text = ""
    for k, (sign, word) in enumerate(terms):
        if k == 0:
            text = word if sign > 0 else f"−{word}"
        else:
            text += f" {'+' if sign > 0 else '−'} {word}"
    return text


def _analogy_reading(ctx: Context, vocab: tuple[str, ...], E: np.ndarray, result: emb.Analogy) -> str:
    """What the expression asked, read as an analogy when it has the form a − b + c.

    king − man + woman: king moved by the offset man→woman; it lands on queen exactly when
    queen − king = woman − man, and the cosine of the two offsets says how nearly they agree.
    """
    n = ctx.n
    if not result.ranking:
        return ""
    best, best_cos = result.ranking[0]
    plus = [w for s, w in result.terms if s > 0]
    minus = [w for s, w in result.terms if s < 0]
    if len(result.terms) != 3 or len(plus) != 2 or len(minus) != 1 or len(set(plus + minus)) != 3:
        return f"The nearest word left to {_expression(result.terms)} is {best} (cosine {n(best_cos)})."
    a, c, b = plus[0], plus[1], minus[0]
    text = (
        f"{_expression(result.terms)} is {a} moved by the offset {b}→{c}; it would land exactly on a word d "
        f"whose offset {a}→d equals {b}→{c}. The nearest word left is {best} (cosine {n(best_cos)})"
    )
    agreement = emb.offset_cosine(vocab, E, (b, c), (a, best))
    if math.isnan(agreement):
        return text + "."
    shown = n(agreement)
    if abs(agreement) != 1 and shown in ("1", "-1"):  # rounded to ±1 but not ±1: show the difference
        shown = f"{agreement:.6g}"
    return text + f", and the offsets {b}→{c} and {a}→{best} have cosine {shown} (1 would be the same direction)."


def script(trace: Trace) -> str:
    """Lookup, cosine similarity and the analogy as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    lines = [
        "import re",
        "",
        heading(trace, "ids"),
        "tokens = sentence.split()",
        "ids = [vocab.index(token) for token in tokens]",
        "",
        heading(trace, "lookup"),
        "vectors = E[ids]  # row id(t) of E for each token t",
        "",
        heading(trace, "similarity"),
        "lengths = np.linalg.norm(vectors, axis=1)",
        "# a zero vector has no direction: its cosines are nan",
        "with np.errstate(divide='ignore', invalid='ignore'):",
        "    similarity = (vectors @ vectors.T) / np.outer(lengths, lengths)",
    ]
    if trace.outputs.get("analogy") is None:
        return "\n".join([*lines, "", "analogy = None  # no analogy was asked"])
    return "\n".join([
        *lines,
        "",
        heading(trace, "analogy"),
        "terms = re.findall(r'[+-]|[^\\s+-]+', analogy)  # words, and signs between",
        "expression, sign, vector, used = analogy, 1.0, np.zeros(E.shape[1]), []",
        "for term in terms:",
        "    if term in '+-':",
        "        sign = 1.0 if term == '+' else -1.0",
        "    else:",
        "        vector = vector + sign * E[vocab.index(term)]",
        "        used.append(term)",
        "        sign = 1.0",
        "excluded = list(dict.fromkeys(used))  # the expression's words: not candidates",
        "",
        "",
        "def cosine(a, b):",
        "    if not (a.any() and b.any()):",
        "        return math.nan",
        "    return float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))",
        "",
        "",
        "candidates = [(word, cosine(vector, E[i])) for i, word in enumerate(vocab)",
        "              if word not in excluded]",
        "defined = [pair for pair in candidates if not math.isnan(pair[1])]",
        "ranking = sorted(defined, key=lambda pair: -pair[1])  # most similar first",
        "analogy = {'expression': expression, 'vector': vector, 'ranking': ranking,",
        "           'excluded': excluded}",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "vocab": Input("labels"),
        "E": Input("matrix"),
        "sentence": Input("text"),
        "analogy": Input("text"),
    },
    targets=(Target("ids", "ids"), Target("similarity", "norms"), Target("similarity", "similarity"), Target("analogy", "vector")),
    script=script,
)
