"""The vit-patches lesson: an image cut into patches, flattened, projected, [CLS] in front, positions added.

Default run: the built-in 8×8 letter A (one channel) in 4×4 patches, so N = (8/4)·(8/4) = 4
tokens of P²C = 16 numbers each. Patch 1, the top-right block, flattened row by row is
[0.5, 0, 0, 0, 1, 0.5, 0, 0, 0, 1, 0.5, 0, 0, 0, 1, 0.5]. With the built-in W_E (its
"diagonal" column weighs the ↘ diagonal 0.3 and every other pixel −0.1) and b = 0.2 there,
E[1,3] = 4×(0.5×0.3) − (1 + 1 + 1)×0.1 + 0.2 = 0.5; at position 2 (after [CLS]) it gets
0.1 added: 0.6. A Conv2d with 4×4 filters and stride 4, filter j = column j of W_E, gives the
same E; W_E and b hold 16·4 + 4 = 68 numbers.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import run_lesson
>>> trace = run_lesson(load_lesson("vit-patches"))
>>> trace.outputs["n_patches"], trace.outputs["patches"].shape, round(float(trace.outputs["embeddings"][2, 3]), 10)
(4, (4, 16), 0.6)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core import patches as core
from nntutor.errors import InputError
from nntutor.numfmt import fmt, human_bytes
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._common import (
    Context,
    Size,
    answer,
    counted,
    index_labels,
    mismatch,
    products,
    shape_words,
)
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough

DEFAULT_SIDE = 8  # a random image without --image-size is 8×8, like the built-in one
MAX_CELLS = 4_000_000  # numbers held by one run (32 MB as float64; JSON takes several times that)
MAX_MACS = 2_000_000_000  # multiply-adds of the projection and the convolution together
MACS_PER_SECOND = 1_000_000_000  # a conservative rate here (4 GMAC/s measured at ViT-Base sizes), for the estimate
MAX_TERMS = 16  # a dot product written out in full up to here
RGB = ("R", "G", "B")
VIT_BASE = (224, 16, 3, 768)  # image side, patch, channels, d of ViT-Base/16


class Inputs(NamedTuple):
    """Checked inputs: the image (H × W × C), the patch side and every learned table at matching sizes."""

    image: np.ndarray  # H × W × C
    source: str  # where the image came from: "built-in", "given" or "random"
    patch: int  # P, dividing H and W
    we: np.ndarray  # W_E, P²C × d
    b: np.ndarray  # d
    cls: np.ndarray  # d
    pos: np.ndarray  # (N + 1) × d, [CLS] first
    builtin: bool  # W_E is the built-in hand-made table (its columns have names)
    drawn: tuple[str, ...]  # the inputs drawn from the seed, as shown: "the image", "W_E" …
    seed: int


# --------------------------------------------------------------------------- checking


def _image(args: Args) -> tuple[np.ndarray | None, tuple[int, int, int], str]:
    """The typed image (H × W × C), or None with the size of the one to draw or the built-in one."""
    given, channels = args.given, int(args["channels"])
    if "image" in given:
        if "image-size" in given:
            raise InputError("--image-size", "cannot be combined with --image (the size comes from --image)")
        raw = args["image"]
        height, columns = raw.shape
        if columns % channels:
            raise mismatch(
                given, Size("image", columns, "columns", shape_words(raw)), Size("channels", channels, "channels"),
                why=f"{channels} numbers per pixel, so a multiple of {channels} columns",
            )
        return raw.reshape(height, columns // channels, channels).copy(), (height, columns // channels, channels), "given"
    if given & {"image-size", "channels", "seed"}:
        side = int(args["image-size"]) if args["image-size"] is not None else DEFAULT_SIDE
        return None, (side, side, channels), "random"
    return core.TOY_IMAGE.copy(), core.TOY_IMAGE.shape, "built-in"


def _check_sides(args: Args, shape: tuple[int, int, int], source: str, patch: int) -> None:
    """P divides the height and the width; the error names the flag the learner typed."""
    height, width, channels = shape
    for length, unit in ((height, "rows"), (width, "columns" if channels == 1 else "pixels per row")):
        if length % patch == 0:
            continue
        if source == "random":
            checked = Size("image-size", length, "pixels per side", str(length))
        elif source == "given":
            checked = Size("image", length, unit, shape_words(args["image"]))
        else:
            checked = Size("image", length, unit, f"{height}×{width}")
        fits = core.divisors(length)
        shown = ", ".join(map(str, fits[:12])) + (", …" if len(fits) > 12 else "")
        rule = (
            f"a side must hold whole patches: {length} = {length // patch}×{patch} + {length % patch}"
            if patch < length
            else f"a patch cannot be larger than the image, {length} < {patch}"
        )
        raise mismatch(
            args.given, checked, Size("patch", patch, "pixels per side"),
            why=f"{rule}; patch sizes that fit {length}: {shown}",
            fix=f"pass --image-size with a multiple of {patch} (e.g. {patch * -(-length // patch)}), or your own --image"
            if patch < length
            else f"use a --patch of {length} or less",
        )


def _check_size(given: frozenset[str], shape: tuple[int, int, int], patch: int, d: int) -> None:
    """Refuse up front what would take more than a few seconds or a few tens of MB."""
    height, width, channels = shape
    n = (height // patch) * (width // patch)
    values = core.patch_values(patch, channels)
    parts = {"image": 3 * height * width * channels, "weights": 2 * values * d, "tokens": 2 * n * d + 3 * (n + 1) * d}
    cells = sum(parts.values())
    macs = 2 * n * values * d
    if cells <= MAX_CELLS and macs <= MAX_MACS:
        return
    order = {
        "image": ("image-size", "image", "channels", "patch", "d-model", "we"),
        "weights": ("d-model", "we", "patch", "channels", "image-size", "image"),
        "tokens": ("d-model", "we", "image-size", "image", "patch", "channels"),
    }[max(parts, key=parts.get)]
    flag = next((name for name in order if name in given), order[0])
    what = f"{height:,}×{width:,}×{channels:,} pixels in {patch}×{patch} patches with d = {d:,}"
    if cells > MAX_CELLS:
        cost = (
            f"make about {cells:,} numbers ({human_bytes(8 * cells)} in memory, several times that as JSON); "
            f"at most {MAX_CELLS:,} here"
        )
    else:
        cost = (
            f"take about {macs:,} multiply-adds (about {macs / MACS_PER_SECOND:,.0f} s here); "
            f"at most {MAX_MACS:,} here"
        )
    raise InputError(f"--{flag}", f"{what} {cost}: use a smaller image or --d-model, or larger patches")


def _width(args: Args) -> Size:
    """d, as the side of a size rule held by the flag it comes from: --we's columns, or --d-model."""
    we = args["we"]
    if "we" in args.given:
        d = we.shape[1]
        if "d-model" in args.given and int(args["d-model"]) != d:
            raise mismatch(
                args.given, Size("we", d, "columns", shape_words(we)), Size("d-model", int(args["d-model"]), "dimensions"),
                why="one column of W_E per token dimension",
            )
        return Size("we", d, "columns", shape_words(we))
    d = int(args["d-model"])
    return Size("d-model", d, "dimensions", str(d))


def _check_tables(args: Args, shape: tuple[int, int, int], patch: int, d_size: Size) -> None:
    """W_E, b, [CLS] and the positions, where given, at the sizes the image and d ask for."""
    given, d = args.given, d_size.count
    height, width, channels = shape
    n = (height // patch) * (width // patch)
    values = core.patch_values(patch, channels)
    we = args["we"]
    if "we" in given and we.shape[0] != values:
        other = "channels" if "channels" in given and "patch" not in given else "patch"
        raise mismatch(
            given, Size("we", we.shape[0], "rows", shape_words(we)),
            Size(other, values, "numbers per patch", str(args[other])),
            why=f"one row per number of a flattened patch: P²C = {patch}²×{channels} = {values}",
        )
    for name, what in (("b", "one bias per column of W_E"), ("cls", "a token is d numbers")):
        vector = args[name]
        if name in given and vector.size != d:
            raise mismatch(given, Size(name, vector.size, "numbers"), d_size, why=what)
    pos = args["pos"]
    if "pos" in given:
        if pos.shape[0] != n + 1:
            raise InputError(
                "--pos",
                f"has {counted(pos.shape[0], 'rows')} but there are {n + 1} tokens ([CLS] and {n} patches of "
                f"{patch}×{patch}): one row per token",
            )
        if pos.shape[1] != d:
            raise mismatch(given, Size("pos", pos.shape[1], "columns", shape_words(pos)), d_size, why="a position is added to a token")


def check(args: Args) -> Inputs:
    """The image (typed, drawn or built-in) in whole patches, every table at its size, nothing too big.

    >>> from nntutor.catalog.run import parse_args
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> inputs = check(parse_args(load_lesson("vit-patches"), {"image": "1,2;3,4", "patch": "1"}))
    >>> inputs.image.shape, inputs.we.shape, inputs.pos.shape, inputs.drawn
    ((2, 2, 1), (1, 4), (5, 4), ('W_E and b', '[CLS]', 'the positions'))
    """
    given = args.given
    image, shape, source = _image(args)
    patch = int(args["patch"])
    _check_sides(args, shape, source, patch)
    d_size = _width(args)
    d = int(d_size.count)
    _check_size(given, shape, patch, d)
    _check_tables(args, shape, patch, d_size)
    height, width, channels = shape
    n = core.n_patches(height, width, patch)
    seed = int(args["seed"])
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    drawn: list[str] = []
    if image is None:
        image = core.random_image(streams[0], height, width, channels)
        drawn.append("the image")
    builtin = "seed" not in given and (patch, channels, d, n) == (core.TOY_PATCH, 1, core.TOY_WE.shape[1], 4)
    we_drawn, b_drawn = core.random_projection(streams[1], patch, channels, d)
    we = args["we"] if "we" in given else core.TOY_WE.copy() if builtin else we_drawn
    b = args["b"] if "b" in given else core.TOY_B.copy() if builtin else b_drawn
    cls = args["cls"] if "cls" in given else core.TOY_CLS.copy() if builtin else core.random_tokens(streams[2], 1, d)[0]
    pos = args["pos"] if "pos" in given else core.TOY_POS.copy() if builtin else core.random_tokens(streams[3], n + 1, d)
    if not builtin:
        names = [("W_E", "we"), ("b", "b"), ("[CLS]", "cls"), ("the positions", "pos")]
        missing = [shown for shown, name in names if name not in given]
        if missing[:2] == ["W_E", "b"]:
            missing[:2] = ["W_E and b"]
        drawn.extend(missing)
    return Inputs(image, source, patch, we, b, cls, pos, builtin and "we" not in given, tuple(drawn), seed)


# --------------------------------------------------------------------------- labels and text


def _entry_label(r: int, s: int, c: int, channels: int) -> str:
    """A flattened patch's entry by its place in the patch: ``1,2`` (row 1, column 2), ``1,2G`` for RGB."""
    if channels == 1:
        return f"{r},{s}"
    return f"{r},{s}{RGB[c]}" if channels == 3 else f"{r},{s}:{c}"


def _entry_labels(patch: int, channels: int) -> tuple[str, ...]:
    return tuple(_entry_label(*core.position_of(k, patch, channels), channels) for k in range(core.patch_values(patch, channels)))


def _column_labels(width: int, channels: int) -> tuple[str, ...]:
    if channels == 1:
        return index_labels(width, "c")
    names = RGB if channels == 3 else tuple(f":{c}" for c in range(channels))
    return tuple(f"c{j}{names[c]}" for j in range(width) for c in range(channels))


def _span(start: int, size: int) -> str:
    return str(start) if size == 1 else f"{start}–{start + size - 1}"


def _vector(ctx: Context, values: np.ndarray, limit: int = 8) -> str:
    items = [ctx.n(x) for x in values[:limit]]
    return "(" + ", ".join(items) + (", …" if values.size > limit else "") + ")"


def _dot_terms(ctx: Context, a: np.ndarray, b: np.ndarray, limit: int = MAX_TERMS) -> tuple[str, str]:
    """The products of a·b written out, and a note on what was left out.

    Up to 8 terms, all of them; past that the zero pixels are left out (they add nothing)
    when at most ``limit`` remain; else the first and last few.
    """
    if a.size <= 8:
        return products(ctx, a, b), ""
    kept = np.flatnonzero(a)
    if kept.size == 0:
        return "0", f" (all {a.size} pixels are 0)"
    if kept.size < a.size and kept.size <= limit:
        zeros = a.size - kept.size
        return products(ctx, a[kept], b[kept]), f" (the {zeros} zero pixel{'s' if zeros > 1 else ''} add nothing)"
    if a.size <= limit:
        return products(ctx, a, b), ""
    return f"{products(ctx, a[:3], b[:3])} + … ({a.size - 5} more terms) … + {products(ctx, a[-2:], b[-2:])}", ""


def _worked_patch(n: int) -> int:
    return 1 if n > 1 else 0


# --------------------------------------------------------------------------- steps


def _grid_step(ctx: Context, inputs: Inputs, r: core.PatchEmbedding) -> Step:
    height, width, channels = r.image.shape
    patch, (down, across) = r.patch, r.grid
    k = _worked_patch(r.n_patches)
    gi, gj = divmod(k, across)
    grid = np.arange(r.n_patches).reshape(down, across)
    what = {"built-in": "the built-in letter A", "given": "as given", "random": f"drawn at random, --seed {inputs.seed}"}[inputs.source]
    layers = "one channel" if channels == 1 else f"{channels} channels side by side"
    worked = [
        f"N = (H/P)·(W/P) = ({height}/{patch})·({width}/{patch}) = {down}·{across} = {r.n_patches}",
        f"patch {k} is grid row {gi}, column {gj}: image rows {_span(gi * patch, patch)}, "
        f"columns {_span(gj * patch, patch)}",
    ]
    base_n = core.n_patches(VIT_BASE[0], VIT_BASE[0], VIT_BASE[1])
    return Step(
        id="grid",
        title=f"Cut the image into {patch}×{patch} patches",
        formula=r"N = \frac{H}{P}\cdot\frac{W}{P}",
        formula_text="N = (H/P)·(W/P), numbered left to right, then top to bottom",
        values=[
            Value("image", r.image.reshape(height, width * channels), label=f"image {height}×{width}, {layers} ({what})",
                  rows=index_labels(height, "r"), cols=_column_labels(width, channels)),
            Value("grid", grid, label="patch number of each block",
                  rows=tuple(f"rows {_span(i * patch, patch)}" for i in range(down)),
                  cols=tuple(f"cols {_span(j * patch, patch)}" for j in range(across))),
            Value("n_patches", r.n_patches, label="N, the number of patches"),
        ],
        worked=worked,
        why=f"Each patch becomes one token: a {VIT_BASE[0]}×{VIT_BASE[0]} photo in {VIT_BASE[1]}×{VIT_BASE[1]} patches "
        f"gives {base_n} tokens, where single pixels would give {VIT_BASE[0] ** 2:,} (attention compares every pair).",
    )


def _flatten_step(ctx: Context, r: core.PatchEmbedding) -> Step:
    height, width, channels = r.image.shape
    patch, across = r.patch, r.grid[1]
    values = core.patch_values(patch, channels)
    k = _worked_patch(r.n_patches)
    gi, gj = divmod(k, across)
    rr, ss, cc = min(1, patch - 1), min(1, patch - 1), channels - 1
    entry = core.flat_index(rr, ss, cc, patch, channels)
    row, col = gi * patch + rr, gj * patch + ss
    flat = r.patches[k]
    per_row = patch * channels
    if values <= MAX_TERMS:
        shown = " | ".join(", ".join(ctx.n(x) for x in flat[i : i + per_row]) for i in range(0, values, per_row))
    else:
        shown = ", ".join(ctx.n(x) for x in flat[:per_row][:8]) + f", … ({values - min(per_row, 8)} more)"
    channel = f", channel {RGB[cc] if channels == 3 else cc}" if channels > 1 else ""
    worked = [
        f"x{k} = [{shown}]",
        f"entry (r·P + s)·C + c = ({rr}·{patch} + {ss})·{channels} + {cc} = {entry}: pixel ({rr}, {ss}) of "
        f"patch {k}{channel}",
        f"x{k}[{entry}] = image[{gi}·{patch} + {rr}, {gj}·{patch} + {ss}] = image[{row}, {col}] = {ctx.n(flat[entry])}",
    ]
    return Step(
        id="flatten",
        title="Flatten each patch in raster order",
        formula=r"\mathbf{x}_n[(rP + s)C + c] = I[iP + r,\ jP + s,\ c]\quad (n = i\cdot W/P + j)",
        formula_text=f"xₙ[(r·P + s)·C + c] = pixel (r, s) of patch n, channel c: P²C = {patch}²×{channels} = {values}",
        values=[
            Value("patches", r.patches, label="flattened patches (columns: row,column inside the patch)",
                  rows=index_labels(r.n_patches, "patch "), cols=_entry_labels(patch, channels)),
        ],
        worked=worked,
        why="Any fixed order works if every patch uses it: each row of W_E belongs to one place in a patch.",
    )


def _embed_step(ctx: Context, inputs: Inputs, r: core.PatchEmbedding, dims: tuple[str, ...], j: int) -> Step:
    patch, channels = r.patch, r.image.shape[2]
    values = core.patch_values(patch, channels)
    k = _worked_patch(r.n_patches)
    n_tokens, d = r.E.shape
    terms, note = _dot_terms(ctx, r.patches[k], r.we[:, j])
    worked = [
        f"b = {_vector(ctx, r.b)}, one bias per column of W_E",
        f"E[{k},{j}] = x{k}·W_E[:,{j}] + b[{j}] = {terms} + {ctx.f(r.b[j])} = {ctx.n(r.E[k, j])}{note}",
    ]
    note = (
        "This one is made by hand so that its columns can be read; a ViT learns W_E from data."
        if inputs.builtin
        else "A ViT learns W_E from data; here it is given or drawn."
    )
    return Step(
        id="embed",
        title="Project every patch to a token",
        formula=r"E = X_p W_E + \mathbf{b}",
        formula_text=f"E = patches·W_E + b: ({n_tokens}×{values})·({values}×{d}) + b → {n_tokens}×{d}",
        values=[
            Value("we", r.we, label="W_E (one row per place in a patch)", rows=_entry_labels(patch, channels), cols=dims),
            Value("E", r.E, label="patch tokens E", rows=index_labels(n_tokens, "patch "), cols=dims),
        ],
        worked=worked,
        why="One W_E serves every patch, as one embedding table serves every word. " + note,
    )


def _tokens_step(ctx: Context, r: core.PatchEmbedding, dims: tuple[str, ...], j: int) -> Step:
    n_tokens = r.n_patches + 1
    d = r.E.shape[1]
    k = _worked_patch(r.n_patches)
    rows = ("[CLS]", *index_labels(r.n_patches, "patch "))
    limit = 4
    sums = ", ".join(f"{ctx.n(a)} + {ctx.f(p)}" for a, p in zip(r.cls[:limit], r.pos[0, :limit], strict=True))
    worked = [
        f"Z[0] = [CLS] + pos 0 = ({sums}{', …' if d > limit else ''}) = {_vector(ctx, r.embeddings[0], limit)}",
        f"Z[{k + 1},{j}] = E[{k},{j}] + pos[{k + 1},{j}] = {ctx.n(r.E[k, j])} + {ctx.f(r.pos[k + 1, j])} = "
        f"{ctx.n(r.embeddings[k + 1, j])}: patch {k} sits at position {k + 1}",
    ]
    return Step(
        id="tokens",
        title="Put [CLS] in front and add the positions",
        formula=r"Z = [\mathbf{x}_{\mathrm{cls}};\ E] + E_{\mathrm{pos}}",
        formula_text=f"Z = [CLS; E] + positions: {n_tokens}×{d}, [CLS] at position 0, patch n at n + 1",
        values=[
            Value("pos", r.pos, label="position embeddings", rows=index_labels(n_tokens, "pos "), cols=dims),
            Value("embeddings", r.embeddings, label="Z, what the encoder reads", rows=rows, cols=dims),
        ],
        worked=worked,
        why="Attention sees a set: without positions, shuffling the patches only shuffles the outputs. "
        "[CLS] is the vector the classifier reads after the encoder.",
    )


def _conv_step(ctx: Context, r: core.PatchEmbedding, j: int) -> Step:
    channels = r.image.shape[2]
    patch, (down, across) = r.patch, r.grid
    kernel = core.conv_kernel(r.we, patch, channels)
    feature = core.conv2d(core.to_chw(r.image), kernel, r.b, stride=patch)
    difference = float(np.max(np.abs(core.conv_tokens(feature) - r.E)))
    k = _worked_patch(r.n_patches)
    gi, gj = divmod(k, across)
    window = r.image[gi * patch : (gi + 1) * patch, gj * patch : (gj + 1) * patch]
    # the convolution's own order: channel by channel, kernel row by kernel row
    row_sums = np.array([[float(kernel[j, c, i] @ window[i, :, c]) for i in range(patch)] for c in range(channels)])
    terms, note = _dot_terms(ctx, window[0, :, 0], kernel[j, 0, 0], limit=8)
    first = f"channel {RGB[0] if channels == 3 else 0}, " if channels > 1 else ""
    worked = [
        f"K[{j},c,r,s] = W_E[(r·{patch} + s)·{channels} + c, {j}]: column {j} of W_E as a patch",
        f"{first}kernel row 0 on window ({gi},{gj}): {terms} = {ctx.n(row_sums[0, 0])}{note}",
    ]
    sums = row_sums.ravel()
    if sums.size <= 8:
        added = " + ".join(ctx.f(x) for x in sums)
        which = "row sums" if channels == 1 else "row sums, channel by channel"
        worked.append(f"out{j}({gi},{gj}) = b[{j}] + {which} = {ctx.n(r.b[j])} + {added} = {ctx.n(feature[j, gi, gj])} = E[{k},{j}]")
    else:
        worked.append(f"out{j}({gi},{gj}) = b[{j}] + the {sums.size} row sums = {ctx.n(feature[j, gi, gj])} = E[{k},{j}]")
    outputs = ", ".join(ctx.n(x) for x in feature[j].ravel()[:8]) + (", …" if feature[j].size > 8 else "")
    worked.append(f"filter {j} over the {down}×{across} windows, row by row: {outputs}: column {j} of E")
    channel = "" if channels == 1 else f", channel {RGB[0] if channels == 3 else 0} of {channels}"
    return Step(
        id="conv",
        title=f"The same numbers from a convolution with stride {patch}",
        formula=r"\mathrm{out}_j(i, k) = b_j + \sum_{c,r,s} K_{j,c,r,s}\, I_{c,\,iP+r,\,kP+s},"
        r"\quad K_{j,c,r,s} = (W_E)_{(rP+s)C+c,\ j}",
        formula_text="outⱼ(i, k) = bⱼ + Σ K[j,c,r,s]·image[c, i·P + r, k·P + s]",
        values=[
            Value("kernel", kernel[j, 0], label=f"filter {j}{channel}", rows=index_labels(patch, "row "),
                  cols=index_labels(patch, "col ")),
            Value("difference", difference, label="largest |conv − E| over every filter and window (rounding)"),
        ],
        worked=worked,
        why=f"Moved {patch} pixels at a time, a {patch}×{patch} filter meets each patch once, with no overlap or gap, "
        "so ViT code computes the patch embedding as this convolution.",
    )


def _params_step(ctx: Context, r: core.PatchEmbedding) -> Step:
    channels = r.image.shape[2]
    patch, n, d = r.patch, r.n_patches, r.E.shape[1]
    values = core.patch_values(patch, channels)
    p = core.embedding_params(patch, channels, d, n)
    worked = [
        f"W_E and b = P²C·d + d = {values}·{d} + {d} = {p.linear:,}",
        f"all = W_E and b + [CLS] + positions = {p.linear:,} + {d} + {n + 1}·{d} = {p.total:,}",
    ]
    side, b_patch, b_channels, b_d = VIT_BASE
    if (r.image.shape, patch, d) != ((side, side, b_channels), b_patch, b_d):
        base_n = core.n_patches(side, side, b_patch)
        base = core.embedding_params(b_patch, b_channels, b_d, base_n)
        values_b = core.patch_values(b_patch, b_channels)
        worked.append(
            f"ViT-Base/16 ({side}×{side}×{b_channels}, P = {b_patch}, d = {b_d}): {values_b}·{b_d} + {b_d} = "
            f"{base.linear:,}; all {base.total:,}"
        )
    return Step(
        id="params",
        title="Count the learned numbers",
        formula=r"P^2C\cdot d + d\ (W_E, \mathbf{b}) + d\ (\mathrm{CLS}) + (N+1)\,d\ (\text{positions})",
        formula_text="P²C·d + d (W_E and b) + d ([CLS]) + (N + 1)·d (positions)",
        values=[
            Value("linear", p.linear, label="W_E and b"),
            Value("total", p.total, label="all, with [CLS] and positions"),
        ],
        worked=worked,
        why="W_E's size depends on the patch and d, not on the image: a bigger image at the same "
        "patch size only adds tokens, and with them rows of the position table.",
    )


def build(ctx: Context, inputs: Inputs) -> Trace:
    height, width, channels = inputs.image.shape
    r = core.patch_embedding(inputs.image, inputs.patch, inputs.we, inputs.b, inputs.cls, inputs.pos)
    d = r.E.shape[1]
    dims = core.TOY_DIMS if inputs.builtin else index_labels(d, "d")
    j = d - 1 if inputs.builtin else 0  # the column worked out in full (the built-in "diagonal" one)
    recorded: dict[str, Any] = {
        "image": inputs.image.reshape(height, width * channels), "channels": channels, "patch": inputs.patch,
        "we": inputs.we, "b": inputs.b, "cls": inputs.cls, "pos": inputs.pos,
    }
    if inputs.drawn:
        recorded["seed"] = inputs.seed
    trace = ctx.new_trace(recorded)
    if inputs.drawn:
        bound = core.init_bound(inputs.patch, channels)
        ranges = {
            "the image": "pixels in [0, 1]",
            "W_E and b": f"W_E and b in ±1/√{core.patch_values(inputs.patch, channels)} = ±{ctx.n(bound)}, "
            "PyTorch's initial range",
            "W_E": f"W_E in ±{ctx.n(bound)}",
            "b": f"b in ±{ctx.n(bound)}",
        }
        said = [ranges[name] for name in inputs.drawn if name in ranges]
        if any(name in ("[CLS]", "the positions") for name in inputs.drawn):
            said.append("[CLS] and positions in ±0.5")
        trace.summary += f" Drawn at random, --seed {inputs.seed}: {', '.join(inputs.drawn)} ({'; '.join(said)})."
    trace.add(_grid_step(ctx, inputs, r))
    trace.add(_flatten_step(ctx, r))
    trace.add(_embed_step(ctx, inputs, r, dims, j))
    trace.add(_tokens_step(ctx, r, dims, j))
    conv = trace.add(_conv_step(ctx, r, j))
    conv.detail = True  # a check; its finding is said where E is computed
    trace.step("embed").worked.append(
        f"a stride-{r.patch} convolution gives the same E to {fmt(conv.value('difference').data, 3)} "
        f"(step {len(trace.steps)}, --full)"
    )
    trace.add(_params_step(ctx, r))
    trace.outputs = {"patches": r.patches, "embeddings": r.embeddings, "n_patches": r.n_patches}
    trace.result = answer(trace, "tokens.embeddings")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _column_major(inputs: Inputs) -> np.ndarray:
    """Each patch flattened column by column (s before r) instead of row by row."""
    h, w, c = inputs.image.shape
    p = inputs.patch
    grid = inputs.image.reshape(h // p, p, w // p, p, c).transpose(0, 2, 3, 1, 4)
    return grid.reshape(-1, p * p * c)


def _columns_first(case) -> float | None:
    """The patch read down its columns: the entry, its token, its final embedding."""
    inputs, index = case.inputs, case.index
    wrong = _column_major(inputs)
    if case.value == "patches":
        return float(wrong[index])
    tokens = core.embed_patches(wrong, inputs.we, inputs.b)
    if case.value == "E":
        return float(tokens[index])
    if case.value == "embeddings" and index[0] > 0:
        return float(tokens[index[0] - 1, index[1]] + inputs.pos[index])
    return None


def _no_bias(case) -> float | None:
    """patches·W_E without + b (and then the positions added)."""
    inputs, (i, j) = case.inputs, case.index
    if inputs.b[j] == 0 or (case.value == "embeddings" and i == 0):
        return None
    return case.element() - float(inputs.b[j])


def _position_shift(case) -> float | None:
    """Patch n given position n, as if [CLS] took no position: E[n] + pos[n] for E[n] + pos[n + 1]."""
    i, j = case.index
    if i == 0:
        return None
    E = case.trace.step("embed").value("E").data  # indexed by patch: row i of Z is patch i − 1
    return float(E[i - 1, j] + case.inputs.pos[i - 1, j])


def _no_positions(case) -> float | None:
    """[CLS; E] without the positions added."""
    added = float(case.inputs.pos[case.index])
    return None if added == 0 else case.element() - added


def _divided_once(case) -> float | None:
    """H·W/P: the pixels divided by P once, not by P² (a patch holds P×P pixels)."""
    h, w, _ = case.inputs.image.shape
    return h * w / case.inputs.patch if case.inputs.patch > 1 else None


def _counted_cls(case) -> float | None:
    """N + 1: [CLS] counted as a patch."""
    return case.element() + 1


def _params_no_bias(case) -> float | None:
    """P²C·d for W_E and b (and in the total): the d biases left out."""
    return case.element() - int(case.inputs.we.shape[1])


def _params_no_channels(case) -> float | None:
    """P²·d where W_E has P²C·d entries: the channels forgotten."""
    c = case.inputs.image.shape[2]
    if c == 1:
        return None
    return case.element() - (c - 1) * case.inputs.patch**2 * int(case.inputs.we.shape[1])


MISTAKES = (
    Mistake("columns-first", "flattened the patch column by column: raster order goes along each row first",
            _columns_first, values=("patches", "E", "embeddings")),
    Mistake("no-bias", "left out the bias b (E = patches·W_E + b)", _no_bias, values=("E", "embeddings")),
    Mistake("position-shift", "gave patch n position n: [CLS] takes position 0, so patch n is at n + 1",
            _position_shift, values=("embeddings",)),
    Mistake("no-positions", "did not add the position embedding", _no_positions, values=("embeddings",)),
    Mistake("divided-once", "divided the pixels by P, not by P² (a patch holds P×P pixels)", _divided_once,
            values=("n_patches",)),
    Mistake("counted-cls", "counted [CLS] as a patch (it is added after the N patches are cut)", _counted_cls,
            values=("n_patches",)),
    Mistake("params-no-bias", "left out the d biases (P²C·d + d)", _params_no_bias, values=("linear", "total")),
    Mistake("params-no-channels", "forgot the channels: a patch holds P²·C numbers", _params_no_channels,
            values=("linear", "total")),
)


# --------------------------------------------------------------------------- quiz runs


def _quiz_inputs(rng: np.random.Generator, values: dict[str, Any]) -> dict[str, Any]:
    """A fresh small image of 0, 0.5 and 1 (easy to multiply), cut one of three ways, tables drawn from a seed."""
    patch, channels = [(4, 1), (2, 1), (2, 3)][int(rng.integers(0, 3))]
    sides = (4, 8) if patch == 4 else (2, 4, 6)
    height, width = (int(rng.choice(sides)) for _ in range(2))
    pixels = rng.choice([0.0, 0.5, 1.0], size=(height, width * channels))
    return {"image": pixels, "channels": channels, "patch": patch, "seed": int(rng.integers(0, 1000))}


def script(trace: Trace) -> str:
    """Patches, their projection, [CLS] and positions as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "grid"),
        "# H × W × C (the image is recorded as H rows of W·C numbers)",
        "pixels = image.reshape(image.shape[0], -1, channels)",
        "height, width = pixels.shape[0], pixels.shape[1]",
        "n_patches = (height // patch) * (width // patch)",
        "",
        heading(trace, "flatten"),
        "grid = pixels.reshape(height // patch, patch, width // patch, patch, channels)",
        "patches = grid.transpose(0, 2, 1, 3, 4).reshape(n_patches, -1)",
        "",
        heading(trace, "embed"),
        "E = patches @ we + b",
        "",
        heading(trace, "tokens"),
        "embeddings = np.vstack([cls, E]) + pos  # [CLS] first, then the patches",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "image": Input("matrix"),
        "image-size": Input("integer", minimum=1),
        "channels": Input("integer", minimum=1),
        "patch": Input("integer", minimum=1),
        "d-model": Input("integer", minimum=1),
        "we": Input("matrix"),
        "b": Input("vector"),
        "cls": Input("vector"),
        "pos": Input("matrix"),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("grid", "n_patches", symbol="N, the number of patches"),
        Target("flatten", "patches"),
        Target("embed", "E"),
        Target("tokens", "embeddings"),
        Target("params", "linear"),
        Target("params", "total"),
    ),
    mistakes=MISTAKES,
    keep=("image", "we", "b", "cls", "pos"),
    extra=_quiz_inputs,
    script=script,
)
