"""The positional-encoding lesson: sinusoidal tables and rotary embeddings (RoPE).

Default run: positions 0–7, d_model = 8, base 10000. The pairs turn at
1, 0.1, 0.01 and 0.001 radians per position, so PE(7) =
[sin 7, cos 7, sin 0.7, cos 0.7, sin 0.07, cos 0.07, sin 0.007, cos 0.007]
= [0.657, 0.7539, 0.6442, 0.7648, 0.0699, 0.9976, 0.007, 1] (4 decimals).

With ``--kind learned``: the table is 8 rows of trained numbers (here drawn from
``--seed``, uniform in ±1, 2 decimals), read off row by row: PE(0) = P[0] =
[0.27, -0.46, -0.92, -0.97, 0.63, 0.83, 0.21, 0.46] for seed 0, and position 8
has no row at all.

With ``--kind rope``: q = [1, 0.5, -1, 2] at m = 5 and k = [0.5, 1, 1, -0.5]
at n = 2 are rotated pair by pair; their score is the same at (8, 5).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core import positional as posenc
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, Size, answer, dot_worked, mismatch, shape_words
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough

MAX_CELLS = 1_000_000  # numbers in the tables of one run (8 MB as float64)
SINUSOIDAL_ONLY = ("positions", "at", "x")  # used by the learned kind too
LEARNED_ONLY = ("table", "seed")
ROPE_ONLY = ("q", "k", "m", "n", "shift")
MAX_WORKED_PAIRS = 4


def _check_even(flag: str, d: int, what: str) -> None:
    if d % 2:
        raise InputError(
            flag,
            f"{what} {d}, which is odd; the encoding works on pairs of dimensions (sin, cos), "
            f"so it must be even (e.g. {d - 1} or {d + 1})",
        )


def _dim_labels(d: int) -> tuple[str, ...]:
    return tuple(f"{'sin' if j % 2 == 0 else 'cos'}·{j // 2}" for j in range(d))


class Inputs(NamedTuple):
    """Checked inputs for either kind; the fields of the other kind hold their defaults.

    Sinusoidal: ``positions``, ``d_model`` (even), ``base`` and optional embeddings ``x``
    (one row per position). RoPE: ``q`` and ``k`` (the same even length, which is
    ``d_model``), their positions ``m`` and ``n``, the ``shift`` and ``base``.
    """

    kind: str  # "sinusoidal", "learned" or "rope"
    positions: np.ndarray | None  # the positions encoded, as float64 (sinusoidal; None for rope)
    d_model: int  # the width d: --d-model, or the width of --x, or the length of --q (rope)
    base: float  # the base of the frequencies 1 / base^(2i/d)
    x: np.ndarray | None  # token embeddings to add the encoding to (sinusoidal; positions × d_model)
    q: np.ndarray  # RoPE: the query vector
    k: np.ndarray  # RoPE: the key vector (same length as q)
    m: int  # RoPE: the query's position
    n: int  # RoPE: the key's position
    shift: int  # RoPE: how far both positions move in the relative-position demonstration
    table: np.ndarray | None = None  # learned: the whole table P, one row per position 0 … context − 1
    seed: int | None = None  # learned: the seed the table was drawn from (None when --table was given)


def check(args: Args) -> Inputs:
    """The flags of the chosen kind checked together; a flag of another kind is refused.

    ``--table`` or ``--seed`` without ``--kind`` choose the learned kind.

    >>> from nntutor.catalog.run import parse_args
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> inputs = check(parse_args(load_lesson("positional-encoding"), {"x": "1,2;3,4"}))
    >>> inputs.positions, inputs.d_model
    (array([0., 1.]), 2)
    """
    given = args.given
    kind = args["kind"] or "sinusoidal"
    if "kind" not in given and any(name in given for name in LEARNED_ONLY):
        kind = "learned"  # --table or --seed alone can only mean the learned table
    if kind == "rope":
        for name in SINUSOIDAL_ONLY:
            if name in given:
                raise InputError(
                    f"--{name}", "is only used with --kind sinusoidal or learned (RoPE uses --q, --k, --m, --n)"
                )
    for name in ROPE_ONLY:
        if name in given and kind != "rope":
            raise InputError(f"--{name}", "is only used with --kind rope (add --kind rope)")
    for name in LEARNED_ONLY:
        if name in given and kind != "learned":
            raise InputError(f"--{name}", "is only used with --kind learned (add --kind learned)")
    if kind == "rope":
        return _check_rope(args)
    if kind == "learned":
        return _check_learned(args)
    return _check_sinusoidal(args)


def _positions(args: Args) -> tuple[np.ndarray, str]:
    given = args.given
    x = args["x"]
    if "at" in given and "positions" in given:
        raise InputError("--at", "give either --positions (a count) or --at (a list of positions), not both")
    if "at" in given:
        return _at(args), "--at"
    if "positions" in given or x is None:
        count = int(args["positions"])
        if count < 1:
            raise InputError("--positions", f"{count} is too small (expected at least 1)")
        if count > MAX_CELLS:  # refused before the positions are made (10⁸ of them took seconds and 800 MB)
            _check_size("--positions", count, int(args["d-model"]))
        return np.arange(count, dtype=np.float64), "--positions"
    return np.arange(x.shape[0], dtype=np.float64), "--x"


def _at(args: Args) -> np.ndarray:
    """The positions of ``--at``, checked to be whole numbers ≥ 0."""
    at = args["at"]
    for value in at:
        if value < 0 or not float(value).is_integer():
            raise InputError("--at", f"{value:g} is not a position (expected whole numbers ≥ 0, e.g. 0,1,100)")
    return at.astype(np.float64)


def _check_size(flag: str, n_pos: int, d: int) -> None:
    """Refuse up front what would take too much memory (and far more as JSON or text)."""
    cells = n_pos * d * 3
    if cells > MAX_CELLS:
        raise InputError(
            flag,
            f"{n_pos:,} positions × {d:,} dimensions make about {cells:,} numbers "
            f"({human_bytes(cells * 8)} in memory, several times that as JSON); at most {MAX_CELLS:,}: "
            "use fewer positions or a smaller --d-model",
        )


def _check_sinusoidal(args: Args) -> Inputs:
    given = args.given
    x = args["x"]
    positions, pos_flag = _positions(args)
    d = int(args["d-model"])
    if x is not None and "d-model" not in given:
        d = x.shape[1]
        _check_even("--x", d, "has a width (d_model) of")
    else:
        _check_even("--d-model", d, "is")
    size_flag = "--d-model" if ("d-model" in given and pos_flag != "--positions") else pos_flag
    _check_size(size_flag, positions.size, d)
    if x is not None and x.shape != (positions.size, d):
        raise InputError(
            "--x",
            f"is {x.shape[0]}×{x.shape[1]} but the encoding is {positions.size}×{d} "
            "(expected one row per position and d_model columns)",
        )
    return Inputs(
        kind="sinusoidal", positions=positions, d_model=d, base=float(args["base"]), x=x,
        q=args["q"], k=args["k"], m=int(args["m"]), n=int(args["n"]), shift=int(args["shift"]),
    )


def _check_learned(args: Args) -> Inputs:
    """The table (--table, or drawn from --seed), its context length and the rows used.

    ``--positions`` is the context length (the table's rows) and ``--at`` picks rows from it;
    a position past the table is refused: a learned table has no row for it.
    """
    given = args.given
    table, x = args["table"], args["x"]
    if "base" in given:
        raise InputError("--base", "is not used with --kind learned: a learned table has no formula, so no frequencies")
    if table is not None and "seed" in given:
        raise InputError("--seed", "draws the table, but --table gives it: pass one or the other")
    if table is not None:
        context, d = table.shape
        if "d-model" in given and int(args["d-model"]) != d:
            raise mismatch(given, Size("table", d, "columns", shape_words(table)),
                           Size("d-model", int(args["d-model"]), "columns"),
                           why="one column per dimension of the embeddings")
        if "positions" in given and int(args["positions"]) != context:
            raise InputError(
                "--positions", f"is {args['positions']} but --table has {context} rows: its rows are the positions "
                "(leave out --positions, or pick rows with --at)"
            )
    else:
        d = x.shape[1] if x is not None and "d-model" not in given else int(args["d-model"])
        if x is not None and "positions" not in given and "at" not in given:
            context = x.shape[0]
        else:
            context = int(args["positions"])
            if context < 1:
                raise InputError("--positions", f"{context} is too small (expected at least 1)")
        _check_size("--d-model" if "d-model" in given else "--positions", context, d)
        table = posenc.learned_table(context, d, int(args["seed"] or 0))
    positions = _at(args) if "at" in given else np.arange(context, dtype=np.float64)
    beyond = [int(p) for p in positions if p >= context]
    if beyond:
        raise InputError(
            "--at",
            f"{beyond[0]} is past the learned table, which has rows for positions 0–{context - 1} only "
            "(a learned table has no formula to give an unseen position a row; use a longer --table or --positions)",
        )
    if x is not None:
        if x.shape[1] != d:
            source = "table" if "table" in given else "d-model"
            raise mismatch(given, Size("x", x.shape[1], "columns", shape_words(x)),
                           Size(source, d, "columns", shape_words(table) if source == "table" else ""),
                           why="one column per dimension")
        if x.shape[0] != positions.size:
            raise InputError(
                "--x", f"has {x.shape[0]} rows but {positions.size} positions are encoded (expected one row per position)"
            )
    return Inputs(
        kind="learned", positions=positions, d_model=d, base=float(args["base"]), x=x,
        q=args["q"], k=args["k"], m=int(args["m"]), n=int(args["n"]), shift=int(args["shift"]),
        table=table, seed=None if "table" in given else int(args["seed"] or 0),
    )


def _check_rope(args: Args) -> Inputs:
    q, k = args["q"], args["k"]
    if q.size < 2 or q.size % 2:
        raise InputError(
            "--q", f"has {q.size} numbers; RoPE rotates pairs of dimensions, so it needs an even count (e.g. 4)"
        )
    if k.shape != q.shape:
        raise mismatch(
            args.given, Size("k", k.size, "numbers", shape_words(k)), Size("q", q.size, "numbers", shape_words(q)),
            why="a query and a key of the same size",
        )
    d = q.size
    if "d-model" in args.given and int(args["d-model"]) != d:
        raise InputError(
            "--d-model", f"is {args['d-model']} but --q has {d} numbers (with --kind rope the size comes from --q)"
        )
    m, p2, s = int(args["m"]), int(args["n"]), int(args["shift"])
    if m + s < 0 or p2 + s < 0:
        raise InputError("--shift", f"{s} would move a position below 0 ({m} + {s}, {p2} + {s})")
    return Inputs(
        kind="rope", positions=None, d_model=d, base=float(args["base"]), x=None, q=q, k=k, m=m, n=p2, shift=s
    )


def build(ctx: Context, inputs: Inputs) -> Trace:
    if inputs.kind == "rope":
        return _build_rope(ctx, inputs)
    if inputs.kind == "learned":
        return _build_learned(ctx, inputs)
    return _build_sinusoidal(ctx, inputs)


# ----------------------------------------------------------------------------- sinusoidal


def _build_sinusoidal(ctx: Context, inputs: Inputs) -> Trace:
    n, f = ctx.n, ctx.f
    x, positions, d, base = inputs.x, inputs.positions, inputs.d_model, inputs.base
    assert positions is not None  # check resolves them for the sinusoidal kind
    enc = posenc.sinusoidal(positions, d, base)
    half = d // 2
    pos_labels = tuple(f"pos {int(p)}" for p in positions)
    pair_labels = tuple(f"pair {i}" for i in range(half))
    dim_labels = _dim_labels(d)
    inputs: dict[str, Any] = {"kind": "sinusoidal", "positions": [int(p) for p in positions], "d-model": d, "base": base}
    if x is not None:
        inputs["x"] = x
    trace = ctx.new_trace(inputs)

    # 1. frequencies
    shown = sorted(set(list(range(min(half, MAX_WORKED_PAIRS - 1))) + [half - 1]))
    freq_rows = tuple(
        (i, f"{2 * i}, {2 * i + 1}", float(enc.exponents[i]), float(enc.divisors[i]), float(enc.frequencies[i]),
         float(enc.wavelengths[i]))
        for i in range(half)
    )
    trace.add(
        Step(
            id="frequencies",
            title="One frequency per pair of dimensions",
            formula=r"\omega_i = \frac{1}{\mathrm{base}^{2i/d}},\qquad \lambda_i = \frac{2\pi}{\omega_i}",
            formula_text="ωᵢ = 1 / base^(2i/d); wavelength λᵢ = 2π / ωᵢ",
            values=[
                Value(
                    "frequencies",
                    Table(("pair i", "dimensions", "2i/d", "base^(2i/d)", "ω (rad per position)", "wavelength"),
                          freq_rows),
                )
            ],
            worked=[
                f"ω{i} = 1 / {n(base)}^({2 * i}/{d}) = 1 / {n(enc.divisors[i])} = {n(enc.frequencies[i])} "
                f"rad per position (a full turn every {n(enc.wavelengths[i])} positions)"
                for i in (shown[0], shown[-1])[: len(shown)]  # the fastest and the slowest; the table has every pair
            ],
            why="Dimensions 2i and 2i+1 share one frequency. The first pair turns fast (one radian per "
            "position); each later pair turns slower, by a constant factor, so together they run "
            "from fine to coarse like the hands of a clock.",
        )
    )

    # 2. one position worked in full
    p_index = positions.size - 1
    p = positions[p_index]
    cells = np.vstack([np.repeat(enc.angles[p_index], 2), enc.pe[p_index]])
    worked = []
    for i in range(min(half, MAX_WORKED_PAIRS)):
        a = enc.angles[p_index, i]
        worked.append(
            f"PE({int(p)}, {2 * i}) = sin({int(p)} / {n(enc.divisors[i])}) = sin({n(a)}) = {n(enc.pe[p_index, 2 * i])};  "
            f"PE({int(p)}, {2 * i + 1}) = cos({n(a)}) = {n(enc.pe[p_index, 2 * i + 1])}"
        )
    if half > MAX_WORKED_PAIRS:
        worked.append(f"… and {half - MAX_WORKED_PAIRS} more pairs, the same way")
    trace.add(
        Step(
            id="worked",
            title=f"Position {int(p)}, cell by cell",
            formula=r"PE(pos, 2i) = \sin(pos\,\omega_i),\quad PE(pos, 2i{+}1) = \cos(pos\,\omega_i)",
            formula_text="PE(pos, 2i) = sin(pos·ωᵢ), PE(pos, 2i+1) = cos(pos·ωᵢ)",
            values=[Value("cells", cells, label=f"position {int(p)}", rows=("angle pos·ω", "value"), cols=dim_labels)],
            worked=worked,
            why="Each pair is a point on the unit circle (sin² + cos² = 1) at the angle pos·ωᵢ: the "
            "position is written as a set of angles, one per frequency.",
        )
    )

    # 3. the full table
    lengths = posenc.row_lengths(enc.pe)
    last = positions.size - 1
    squares = float(np.sum(enc.pe[last] ** 2))
    trace.add(
        Step(
            id="table",
            title="The whole encoding table",
            formula=r"PE \in \mathbb{R}^{n \times d}",
            formula_text=f"PE: {positions.size} positions × {d} dimensions",
            values=[
                Value("angles", enc.angles, label="angles pos·ωᵢ (radians)", rows=pos_labels, cols=pair_labels,
                      detail=True),  # pos·ωᵢ: the frequency table and position 7's row show how
                Value("pe", enc.pe, label="PE", rows=pos_labels, cols=dim_labels, heat=True),
            ],
            worked=[f"PE({int(positions[0])}, 0) = sin({n(enc.angles[0, 0])}) = {n(enc.pe[0, 0])}"]
            + (["position 0 is all (sin 0, cos 0) = (0, 1) pairs"] if positions[0] == 0 else [])
            + [
                f"‖PE({int(positions[last])})‖ = √(sum of its {d} squares) = √{n(squares)} = {n(float(lengths[last]))}: "
                f"{half} pairs, each with sin² + cos² = 1, so √(d/2) = √{half} at every position"
            ],
            why="Read down a column: the left columns flicker from row to row, the right ones barely "
            f"move. Every value lies in [−1, 1], but a whole row has length √(d/2) = {n(float(np.sqrt(half)))} "
            f"(at d = 512 it would be √256 = {n(float(np.sqrt(256)))}): an embedding with small entries "
            "would be swamped by it. This is one reason the original transformer multiplies the "
            "embeddings by √d_model before adding the encoding: entries of about 1/√d_model give an "
            "embedding of length about 1, and the scaling brings it to about √d_model, the same order as "
            "the encoding's length √(d/2).",
        )
    )

    # 4. adding to embeddings
    if x is not None:
        trace.add(_add_step(ctx, x, enc.pe, positions, root_half=True))

    # 5. neighbours
    nb = posenc.neighbours(enc)
    nb_labels = tuple(f"{int(a)} vs {int(b)}" for a, b in zip(nb.a, nb.b, strict=True))
    a0, b0 = nb.a[0], nb.b[0]
    worked = []
    for i in sorted({0, half - 1}):
        sa, ca = nb.a_pe[0, 2 * i], nb.a_pe[0, 2 * i + 1]
        sb, cb = nb.b_pe[0, 2 * i], nb.b_pe[0, 2 * i + 1]
        worked.append(
            f"pair {i}: {f(sa)}×{f(sb)} + {f(ca)}×{f(cb)} = {n(nb.pairs[0, i])} "
            f"= cos({n(enc.frequencies[i])} × ({int(b0)} − {int(a0)}))"
        )
    worked.append(
        f"cos(PE({int(a0)}), PE({int(b0)})) = {n(nb.dots[0])} / {half} = {n(nb.cosines[0])} "
        f"(every PE row has length √{half})"
    )
    extra = "" if positions.size >= 2 else f" (only one position was listed, so it is compared with {int(b0)})"
    wrap = posenc.wrap_around(enc, nb)
    wrap_text = ""
    if wrap is not None:
        i, j, k = wrap.near, wrap.far, wrap.pair
        dn, df = abs(int(nb.b[i] - nb.a[i])), abs(int(nb.b[j] - nb.a[j]))
        wrap_text = (
            f" The whole-row cosine does not fall steadily, though: {nb_labels[j]} ({n(nb.cosines[j])}) is more "
            f"alike than {nb_labels[i]} ({n(nb.cosines[i])}). Pair {k} turns {n(enc.frequencies[k])} rad per "
            f"position, a full turn every {n(enc.wavelengths[k])} positions, so at Δ = {df} its angle, "
            f"{n(wrap.angle)} rad, is {n(wrap.turn_gap)} rad from a whole number of turns, nearer to one than "
            f"at Δ = {dn} ({n(wrap.near_gap)} rad away): cos({n(wrap.angle)}) = {n(nb.pairs[j, k])} against "
            f"cos({n(wrap.near_angle)}) = {n(nb.pairs[i, k])}. A fast pair's similarity rises and falls again "
            "and again as its angle wraps around; only the pairs that turn less than half a turn over these "
            "distances (ω·Δ < π) fall steadily with distance."
        )
    trace.add(
        Step(
            id="neighbours",
            title="How alike two positions are, pair by pair",
            formula=r"\sin a \sin b + \cos a \cos b = \cos(a - b) = \cos(\omega_i\,\Delta)",
            formula_text="sin a·sin b + cos a·cos b = cos(a − b) = cos(ωᵢ·Δ)",
            values=[
                Value("pair_similarity", nb.pairs, label=f"similarity per pair, position {int(a0)} vs the others", rows=nb_labels, cols=pair_labels,
                      heat=True),
                Value("cosine", nb.cosines, label="cosine of whole rows", cols=nb_labels),
            ],
            worked=worked,
            why="Each pair's similarity is cos(ωᵢ·Δ) for the distance Δ between the positions: it depends "
            "only on how far apart they are. Here the first position is compared with each other one. "
            "In the slow pairs (small ωᵢ) a step of a few positions barely "
            "turns the angle, so the similarity stays near 1; the fast pairs tell neighbours apart. "
            "Far-apart positions differ in the slow pairs too." + extra + wrap_text,
        )
    )
    trace.outputs = {"pe": enc.pe, "angles": enc.angles}
    trace.result = answer(trace, "table.pe")
    return trace


def _add_step(ctx: Context, x: np.ndarray, pe: np.ndarray, positions: np.ndarray, *, root_half: bool) -> Step:
    """x + PE, with the lengths that explain the √d_model scaling (``root_half``: PE's rows are √(d/2) long)."""
    n, f = ctx.n, ctx.f
    d = x.shape[1]
    total = posenc.add_encoding(x, pe)
    pos_labels = tuple(f"pos {int(p)}" for p in positions)
    plain_dims = tuple(f"d{j}" for j in range(d))
    pe_length = float(posenc.row_lengths(pe)[0])
    root, before, after = posenc.scaled_lengths(x)
    p0 = int(positions[0])
    pe_text = f"√(d/2) = √{d // 2} = {n(pe_length)}" if root_half else n(pe_length)
    return Step(
        id="add",
        title="Add the encoding to the token embeddings",
        formula=r"\mathbf{h}_{pos} = \mathbf{x}_{pos} + PE(pos)",
        formula_text="h_pos = x_pos + PE(pos)",
        values=[
            Value("x", x, label="token embeddings x", rows=pos_labels, cols=plain_dims),
            Value("sum", total, label="x + PE", rows=pos_labels, cols=plain_dims),
        ],
        worked=[
            f"h[{int(positions[r])}, {c}] = {n(x[r, c])} + {f(pe[r, c])} = {n(total[r, c])}"
            for r, c in ((0, 0), (positions.size - 1, min(1, d - 1)))
        ]
        + [
            f"lengths at position {p0}: ‖x‖ = {n(float(before[0]))}, ‖PE‖ = {n(pe_length)}",
            f"scaled first (original transformer): ‖√{d}·x‖ = {n(root)} × {n(float(before[0]))} = "
            f"{n(float(after[0]))} against ‖PE({p0})‖ = {pe_text}",
        ],
        why="Attention treats its input as a set; after the addition the same word at two "
        "positions is two different vectors, so order becomes visible to the network. "
        "The sum above adds x as given; the original transformer first multiplies x by √d_model "
        "so that the token's length is of the same order as the position's, not swamped by it.",
    )


# ----------------------------------------------------------------------------- learned


def _build_learned(ctx: Context, inputs: Inputs) -> Trace:
    n = ctx.n
    x, positions, d, table = inputs.x, inputs.positions, inputs.d_model, inputs.table
    assert positions is not None and table is not None  # check resolves them for the learned kind
    context = table.shape[0]
    rows = positions.astype(int)
    pe = table[rows]
    pos_labels = tuple(f"pos {p}" for p in rows)
    record: dict[str, Any] = {"kind": "learned", "positions": rows.tolist(), "d-model": d, "table": table}
    if inputs.seed is not None:
        record["seed"] = inputs.seed
    if x is not None:
        record["x"] = x
    trace = ctx.new_trace(record)
    source = (f"drawn here from seed {inputs.seed} (uniform in ±1, 2 decimals)" if inputs.seed is not None
              else "given with --table")
    last = int(rows[-1])
    lengths = posenc.row_lengths(pe)
    trace.add(
        Step(
            id="learned",
            title="A learned table: one trained row per position",
            formula=r"PE(pos) = P_{pos},\quad P \in \mathbb{R}^{N \times d}",
            formula_text=f"PE(pos) = row pos of P; P: {context} positions × {d} dimensions",
            values=[Value("pe", pe, label="P (learned)", rows=pos_labels, cols=tuple(f"d{j}" for j in range(d)),
                          heat=True)],
            worked=[
                f"P holds {context} × {d} = {context * d} numbers, set by training; {source}",
                f"PE({last}) = row {last} of P, read off, not computed: "
                + "[" + ", ".join(n(v) for v in table[last]) + "]",
                f"‖PE({last})‖ = {n(float(lengths[-1]))}: the row lengths differ, unlike the "
                f"sinusoidal √(d/2) = {n(float(np.sqrt(d / 2)))}",
                f"position {context} has no row: nothing to add there",
            ],
            why="No formula: every entry is a parameter, learned like a token embedding (GPT-2 and "
            "BERT do this). The table stops at the trained context length; an unseen position has no "
            "row and no way to compute one, while the sinusoidal formula gives any position its angles.",
        )
    )
    if x is not None:
        trace.add(_add_step(ctx, x, pe, positions, root_half=False))
    trace.outputs = {"pe": pe}
    return trace


# ----------------------------------------------------------------------------- RoPE


def _build_rope(ctx: Context, inputs: Inputs) -> Trace:
    n, f = ctx.n, ctx.f
    q, k, d, base = inputs.q, inputs.k, inputs.d_model, inputs.base
    m, p2, s = inputs.m, inputs.n, inputs.shift
    r = posenc.rope(q, k, m, p2, base)
    half = d // 2
    pair_labels = tuple(f"pair {i}" for i in range(half))
    dim_labels = tuple(f"d{j}" for j in range(d))
    enc = posenc.sinusoidal([m, p2], d, base)
    trace = ctx.new_trace({"kind": "rope", "q": q, "k": k, "m": m, "n": p2, "shift": s, "base": base, "d-model": d})

    trace.add(
        Step(
            id="frequencies",
            title="One rotation speed per pair of dimensions",
            formula=r"\theta_i = \frac{1}{\mathrm{base}^{2i/d}}",
            formula_text="θᵢ = 1 / base^(2i/d)",
            values=[Value("theta", r.frequencies, label="θᵢ (rad per position)", cols=pair_labels)],
            worked=[f"θ{i} = 1 / {n(base)}^({2 * i}/{d}) = {n(r.frequencies[i])}" for i in range(min(half, 4))],
            why="The same frequencies as the sinusoidal encoding: instead of adding sin and cos to the "
            "embedding, RoPE uses them to turn the query and key.",
        )
    )

    worked = []
    for i in range(min(half, MAX_WORKED_PAIRS)):
        c, sn = r.cos_q[i], r.sin_q[i]
        a, b = q[2 * i], q[2 * i + 1]
        worked.append(
            f"q pair {i}: angle {m}×{n(r.frequencies[i])} = {n(r.angles_q[i])}; "
            f"[{n(c)} {n(-sn)}; {n(sn)} {n(c)}]·({n(a)}, {n(b)}) = "
            f"({f(a)}×{f(c)} − {f(b)}×{f(sn)}, {f(a)}×{f(sn)} + {f(b)}×{f(c)}) = "
            f"({n(r.rotated_q[2 * i])}, {n(r.rotated_q[2 * i + 1])})"
        )
    c, sn = r.cos_k[0], r.sin_k[0]
    worked.append(
        f"k pair 0: angle {p2}×{n(r.frequencies[0])} = {n(r.angles_k[0])}; "
        f"({f(k[0])}×{f(c)} − {f(k[1])}×{f(sn)}, {f(k[0])}×{f(sn)} + {f(k[1])}×{f(c)}) = "
        f"({n(r.rotated_k[0])}, {n(r.rotated_k[1])})"
    )
    rot_rows = tuple(
        (i, float(r.angles_q[i]), float(r.cos_q[i]), float(r.sin_q[i]),
         float(r.angles_k[i]), float(r.cos_k[i]), float(r.sin_k[i]))
        for i in range(half)
    )
    trace.add(
        Step(
            id="rotate",
            title=f"Rotate q by its position m = {m} and k by n = {p2}",
            formula=r"\begin{pmatrix} x'_{2i} \\ x'_{2i+1} \end{pmatrix} = "
            r"\begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\ \sin m\theta_i & \cos m\theta_i \end{pmatrix}"
            r"\begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix}",
            formula_text="(x′₂ᵢ, x′₂ᵢ₊₁) = [cos mθᵢ  −sin mθᵢ; sin mθᵢ  cos mθᵢ]·(x₂ᵢ, x₂ᵢ₊₁)",
            values=[
                Value(
                    "rotations",
                    Table(("pair", "m·θ", "cos m·θ", "sin m·θ", "n·θ", "cos n·θ", "sin n·θ"), rot_rows),
                    label="rotation angles: R(φ) = [cos φ  −sin φ; sin φ  cos φ]",
                ),
                Value("pe", enc.pe, label="sin/cos used (the sinusoidal PE rows of m and n)",
                      rows=(f"pos {m}", f"pos {p2}"), cols=_dim_labels(d)),
                Value("rotated_q", r.rotated_q, label="rotated q", cols=dim_labels),
                Value("rotated_k", r.rotated_k, label="rotated k", cols=dim_labels),
            ],
            worked=worked,
            why="A rotation keeps each pair's length and only turns it, by an angle proportional to the "
            "position. The cos and sin it uses are exactly the sinusoidal encoding's entries for that position.",
        )
    )

    trace.add(
        Step(
            id="score",
            title="Score the rotated query against the rotated key",
            formula=r"s = \mathbf{q}'\cdot\mathbf{k}'",
            formula_text="s = q′·k′",
            values=[
                Value("pair_scores", r.pair_scores, label="contribution of each pair", cols=pair_labels),
                Value("score", r.score, label="q′·k′"),
                Value("plain", r.plain_score, label="q·k without rotation"),
            ],
            worked=[
                dot_worked(ctx, "q′·k′", r.rotated_q, r.rotated_k, r.score),
                dot_worked(ctx, "q·k (no rotation)", q, k, r.plain_score),
            ],
            why="The rotations change the score from q·k to a value that depends on the two positions.",
        )
    )

    # relative-position demonstration
    cases = [("as given", m, p2), (f"both shifted by {s}", m + s, p2 + s)]
    delta = m - p2
    canonical = (delta, 0) if delta >= 0 else (0, -delta)
    if canonical != (m, p2) and canonical != (m + s, p2 + s):
        cases.append(("same offset from 0", *canonical))
    cases.append(("offset changed by 1", m + 1, p2))
    rows = []
    scores = []
    for label, mm, nn in cases:
        sc = posenc.rope(q, k, mm, nn, base).score
        scores.append(sc)
        rows.append((label, mm, nn, mm - nn, sc))
    rel = posenc.relative_score(q, k, delta, base)
    worked = [
        f"score at ({m}, {p2}) = {n(scores[0])}; at ({m + s}, {p2 + s}) = {n(scores[1])}: "
        f"the same, because m − n = {delta} in both",
        f"pair 0: ({f(q[0])}×{f(k[0])} + {f(q[1])}×{f(k[1])})×cos({n(rel.phi[0])}) + "
        f"({f(q[0])}×{f(k[1])} − {f(q[1])}×{f(k[0])})×sin({n(rel.phi[0])}) = "
        f"{n(rel.aligned[0])}×{f(rel.cos_phi[0])} + {f(rel.crossed[0])}×{f(rel.sin_phi[0])} = {n(rel.terms[0])}",
        f"sum over pairs with m − n = {delta} alone: {n(rel.score)}",
    ]
    warnings = []
    if abs(scores[-1] - scores[0]) <= 1e-12 * max(1.0, abs(scores[0])):
        warnings.append(
            "Changing the offset by 1 did not change the score for these q and k (e.g. a zero vector): "
            "try other values to see the dependence on m − n."
        )
    trace.add(
        Step(
            id="relative",
            title="The score depends only on m − n",
            formula=r"R(m\theta)\mathbf{q}\cdot R(n\theta)\mathbf{k} = \mathbf{q}^\top R\big((n-m)\theta\big)\,\mathbf{k}",
            formula_text="R(mθ)q · R(nθ)k = qᵀ·R((n − m)θ)·k",
            values=[
                Value("shifted", Table(("case", "m", "n", "m − n", "score"), tuple(rows)),
                      label="scores at other positions"),
                Value("relative_pair_scores", rel.terms, label="each pair from m − n alone", cols=pair_labels),
            ],
            worked=worked,
            why="Turning both vectors by the same extra angle does not change the angle between them, "
            "so only the difference of the rotations, (m − n)θᵢ, reaches the score: attention with RoPE "
            "sees relative positions, not absolute ones.",
            warnings=warnings,
        )
    )
    angles = np.vstack([r.angles_q, r.angles_k])
    trace.outputs = {
        "pe": enc.pe,
        "angles": angles,
        "rotated_q": r.rotated_q,
        "rotated_k": r.rotated_k,
        "score": r.score,
    }
    return trace


def script(trace: Trace) -> str:
    """The encoding of the chosen kind as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    kind = trace.inputs["kind"]
    if kind == "learned":
        return "\n".join([
            heading(trace, "learned"),
            "pe = table[positions]  # a learned encoding is a lookup: row pos of the table",
        ])
    if kind == "rope":
        return "\n".join([
            heading(trace, "frequencies"),
            "theta = 1.0 / base ** (np.arange(0, d_model, 2) / d_model)",
            "",
            heading(trace, "rotate"),
            "",
            "",
            "def rotate(x, angles):",
            "    \"\"\"Turn each pair (x[2i], x[2i+1]) by angles[i].\"\"\"",
            "    out = np.empty_like(x)",
            "    out[0::2] = x[0::2] * np.cos(angles) - x[1::2] * np.sin(angles)",
            "    out[1::2] = x[0::2] * np.sin(angles) + x[1::2] * np.cos(angles)",
            "    return out",
            "",
            "",
            "angles = np.vstack([m * theta, n * theta])",
            "rotated_q = rotate(q, m * theta)",
            "rotated_k = rotate(k, n * theta)",
            "",
            heading(trace, "score"),
            "score = rotated_q @ rotated_k",
            "",
            "# The sinusoidal encoding of the same two positions m and n (the same angles as sin and cos)",
            "pe = np.empty((2, d_model))",
            "pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)",
        ])
    return "\n".join([
        heading(trace, "frequencies"),
        "divisors = base ** (np.arange(0, d_model, 2) / d_model)  # ωᵢ = 1 / divisorᵢ",
        "",
        heading(trace, "table"),
        "angles = np.array(positions, dtype=float)[:, None] / divisors  # pos·ωᵢ",
        "pe = np.empty((len(positions), d_model))",
        "pe[:, 0::2] = np.sin(angles)  # even dimensions: sin",
        "pe[:, 1::2] = np.cos(angles)  # odd dimensions: cos",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "kind": Input("choice", choices=("sinusoidal", "rope", "learned")),
        "positions": Input("integer", minimum=1),
        "at": Input("vector"),
        "d-model": Input("integer", minimum=2),
        "base": Input("scalar", above=1),
        "x": Input("matrix"),
        "q": Input("vector"),
        "k": Input("vector"),
        "m": Input("integer", minimum=0),
        "n": Input("integer", minimum=0),
        "shift": Input("integer"),
        "table": Input("matrix"),
        "seed": Input("integer", minimum=0),
    },
    targets=(Target("table", "angles"), Target("table", "pe")),
    keep=("q", "k"),
    script=script,
)
