"""An image as a sequence of tokens: the patch embedding of the Vision Transformer (ViT).

An image of H×W pixels with C channels is cut into P×P patches: (H/P)·(W/P) of them, read
in raster order (left to right, then top to bottom). Each patch is flattened in raster
order too, pixel by pixel with the C channel values of a pixel side by side, into P²·C
numbers. One linear map turns each flattened patch into a d-dimensional token,
E = patches·W_E + b; a learned [CLS] token goes in front, and a position embedding is
added to every row. The same numbers come out of a convolution with P×P filters moved P
pixels at a time (stride P), whose filter j is column j of W_E laid out as a patch.

A 4×4 image of one channel, 2×2 patches: patch 1 is the top-right block.

>>> image = np.arange(16.0).reshape(4, 4, 1)
>>> n_patches(4, 4, 2), patchify(image, 2)[1].tolist()
(4, [2.0, 3.0, 6.0, 7.0])
>>> we = np.ones((4, 1)); b = np.array([0.5])
>>> embed_patches(patchify(image, 2), we, b).ravel().tolist()     # 2+3+6+7 + 0.5 = 18.5 for patch 1
[10.5, 18.5, 42.5, 50.5]
>>> conv2d(to_chw(image), conv_kernel(we, 2, 1), b, stride=2).ravel().tolist()
[10.5, 18.5, 42.5, 50.5]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.layer import dense
from nntutor.core.mlp import param_count
from nntutor.core.positional import add_encoding

# --------------------------------------------------------------------------- the built-in example

# An 8×8 letter A of one channel (0 = background, 1 = ink, 0.5 = a soft edge), cut into
# four 4×4 patches: two diagonal strokes on top, the crossbar and legs below.
TOY_IMAGE = np.array(
    [
        [0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 0.0],
        [0.0, 0.5, 1.0, 0.0, 0.0, 1.0, 0.5, 0.0],
        [0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.5],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    ],
    dtype=np.float64,
)[:, :, None]
TOY_PATCH = 4
TOY_DIMS = ("ink", "left−right", "top−bottom", "diagonal")


def _toy_projection() -> np.ndarray:
    """W_E for 4×4 patches of one channel, made by hand so that its columns can be read.

    Row k = 4r + s belongs to the pixel at row r, column s of a patch. Column "ink" weighs
    every pixel 0.1; "left−right" +0.2 on the left half, −0.2 on the right; "top−bottom"
    +0.2 on the top half, −0.2 below; "diagonal" +0.3 on the ↘ diagonal, −0.1 elsewhere.
    """
    r, s = np.divmod(np.arange(TOY_PATCH * TOY_PATCH), TOY_PATCH)
    return np.stack(
        [
            np.full(r.size, 0.1),
            np.where(s < TOY_PATCH // 2, 0.2, -0.2),
            np.where(r < TOY_PATCH // 2, 0.2, -0.2),
            np.where(r == s, 0.3, -0.1),
        ],
        axis=1,
    )


TOY_WE = _toy_projection()
TOY_B = np.array([-0.3, 0.1, -0.1, 0.2])
TOY_CLS = np.array([0.3, -0.2, 0.1, 0.4])
TOY_POS = np.array(
    [
        [0.1, 0.1, 0.2, -0.1],
        [0.1, 0.2, -0.1, -0.2],
        [0.2, -0.1, 0.1, 0.1],
        [-0.1, 0.1, 0.2, 0.3],
        [0.1, -0.2, -0.1, 0.2],
    ]
)


# --------------------------------------------------------------------------- sizes


def n_patches(height: int, width: int, patch: int) -> int:
    """N = (H/P)·(W/P), for sides that are whole multiples of P.

    >>> n_patches(224, 224, 16), n_patches(8, 12, 4)
    (196, 6)
    """
    if patch < 1 or height % patch or width % patch:
        raise ValueError(f"a {height}×{width} image does not split into whole {patch}×{patch} patches")
    return (height // patch) * (width // patch)


def patch_values(patch: int, channels: int) -> int:
    """Numbers in one flattened patch, P²·C: ``patch_values(16, 3) -> 768``."""
    return patch * patch * channels


def divisors(n: int) -> list[int]:
    """The patch sizes that fit a side of n pixels: ``divisors(12) -> [1, 2, 3, 4, 6, 12]``."""
    small = [k for k in range(1, int(n**0.5) + 1) if n % k == 0]
    return sorted(set(small + [n // k for k in small]))


def flat_index(r: int, s: int, c: int, patch: int, channels: int) -> int:
    """Where pixel (r, s), channel c of a patch lands in its flattened row: (r·P + s)·C + c.

    >>> flat_index(1, 1, 0, 4, 1), flat_index(0, 1, 2, 16, 3)
    (5, 5)
    """
    return (r * patch + s) * channels + c


def position_of(k: int, patch: int, channels: int) -> tuple[int, int, int]:
    """The (row r, column s, channel c) inside a patch of flattened entry k: the inverse of :func:`flat_index`.

    >>> position_of(5, 4, 1), position_of(767, 16, 3)
    ((1, 1, 0), (15, 15, 2))
    """
    pixel, c = divmod(k, channels)
    r, s = divmod(pixel, patch)
    return r, s, c


# --------------------------------------------------------------------------- the patch embedding


def patchify(image, patch: int) -> np.ndarray:
    """Every P×P patch of an H×W×C image as one row of P²·C numbers (patches and pixels in raster order).

    Row n is the patch in grid row n // (W/P), grid column n % (W/P); entry (r·P + s)·C + c
    of it is pixel (r, s) of the patch, channel c.

    >>> patchify(np.arange(8.0).reshape(2, 4, 1), 2).tolist()
    [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0]]
    """
    image = np.asarray(image, dtype=np.float64)
    h, w, c = image.shape
    n_patches(h, w, patch)  # refuses sides that are not whole multiples of P
    grid = image.reshape(h // patch, patch, w // patch, patch, c)  # (grid row, r, grid column, s, c)
    return grid.transpose(0, 2, 1, 3, 4).reshape(-1, patch * patch * c)


def embed_patches(patches, we, b) -> np.ndarray:
    """E = patches·W_E + b: one d-dimensional token per patch (W_E is P²C × d), a dense layer on every row.

    >>> embed_patches(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([0.0, 0.5])).tolist()
    [[3.0, 2.5]]
    """
    we = np.asarray(we, dtype=np.float64)
    return dense(np.atleast_2d(patches), we.T, b).z


def prepend(token, rows) -> np.ndarray:
    """The [CLS] token as row 0, the patch tokens after it: ``prepend([9], [[1], [2]]) -> [[9], [1], [2]]``."""
    return np.vstack([np.asarray(token, dtype=np.float64)[None, :], np.asarray(rows, dtype=np.float64)])


class PatchEmbedding(NamedTuple):
    """Every stage of the patch embedding of one image.

    ``patches`` (N × P²C) → ``E`` (N × d) → ``tokens`` ([CLS] then E, (N+1) × d) →
    ``embeddings`` = tokens + positions, what the transformer encoder receives.
    """

    image: np.ndarray  # H × W × C
    patch: int
    grid: tuple[int, int]  # patches down and across: H/P, W/P
    patches: np.ndarray  # N × P²C
    we: np.ndarray  # P²C × d
    b: np.ndarray  # d
    E: np.ndarray  # N × d
    cls: np.ndarray  # d
    tokens: np.ndarray  # (N+1) × d
    pos: np.ndarray  # (N+1) × d
    embeddings: np.ndarray  # (N+1) × d

    @property
    def n_patches(self) -> int:
        return self.patches.shape[0]


def patch_embedding(image, patch: int, we, b, cls, pos) -> PatchEmbedding:
    """Patches, their linear embedding, the [CLS] token in front and the positions added.

    >>> r = patch_embedding(np.ones((2, 2, 1)), 1, np.array([[2.0]]), np.array([0.5]), np.array([9.0]), np.zeros((5, 1)))
    >>> r.n_patches, r.E.ravel().tolist(), r.embeddings.ravel().tolist()
    (4, [2.5, 2.5, 2.5, 2.5], [9.0, 2.5, 2.5, 2.5, 2.5])
    """
    image = np.asarray(image, dtype=np.float64)
    h, w, _ = image.shape
    patches = patchify(image, patch)
    E = embed_patches(patches, we, b)
    tokens = prepend(cls, E)
    embeddings = add_encoding(tokens, np.asarray(pos, dtype=np.float64))
    return PatchEmbedding(
        image, patch, (h // patch, w // patch), patches, np.asarray(we, dtype=np.float64),
        np.asarray(b, dtype=np.float64), E, np.asarray(cls, dtype=np.float64), tokens,
        np.asarray(pos, dtype=np.float64), embeddings,
    )


# --------------------------------------------------------------------------- the same as a convolution


def to_chw(image) -> np.ndarray:
    """H × W × C (pixels with their channels) to C × H × W (one plane per channel, as Conv2d reads it)."""
    return np.ascontiguousarray(np.asarray(image, dtype=np.float64).transpose(2, 0, 1))


def conv_kernel(we, patch: int, channels: int) -> np.ndarray:
    """W_E as the weights of a convolution: K[j, c, r, s] = W_E[(r·P + s)·C + c, j], shape d × C × P × P.

    Filter j is column j of W_E laid out as a patch.

    >>> conv_kernel(np.array([[1.0], [2.0], [3.0], [4.0]]), 2, 1)[0, 0].tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    we = np.asarray(we, dtype=np.float64)
    d = we.shape[1]
    return np.ascontiguousarray(we.reshape(patch, patch, channels, d).transpose(3, 2, 0, 1))


def conv2d(image_chw, kernel, bias, stride: int) -> np.ndarray:
    """A 2-D convolution (no padding), computed by its definition, one kernel offset at a time:

    out[j, y, x] = b[j] + Σ_c Σ_r Σ_s K[j, c, r, s] · image[c, y·stride + r, x·stride + s].

    Shape d × H_out × W_out with H_out = (H − k)//stride + 1 (likewise W_out), for a k×k kernel.

    >>> conv2d(np.arange(9.0).reshape(1, 3, 3), np.ones((1, 1, 2, 2)), np.zeros(1), stride=1).tolist()
    [[[8.0, 12.0], [20.0, 24.0]]]
    """
    image = np.asarray(image_chw, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    channels, h, w = image.shape
    d, kc, kh, kw = kernel.shape
    if kc != channels:
        raise ValueError(f"the kernel reads {kc} channels but the image has {channels}")
    out_h, out_w = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.empty((d, out_h, out_w), dtype=np.float64)
    out[:] = np.asarray(bias, dtype=np.float64)[:, None, None]
    for r in range(kh):
        for s in range(kw):
            window = image[:, r : r + stride * (out_h - 1) + 1 : stride, s : s + stride * (out_w - 1) + 1 : stride]
            out += np.einsum("jc,cyx->jyx", kernel[:, :, r, s], window)
    return out


def conv_tokens(feature_map) -> np.ndarray:
    """A d × H' × W' feature map as tokens: flatten the grid (raster order) and transpose, N × d."""
    feature_map = np.asarray(feature_map, dtype=np.float64)
    return feature_map.reshape(feature_map.shape[0], -1).T


# --------------------------------------------------------------------------- parameters


class EmbeddingParams(NamedTuple):
    """Learned numbers of the embedding stage (exact integers).

    >>> p = embedding_params(16, 3, 768, 196)
    >>> p.projection, p.bias, p.cls, p.positions, p.total
    (589824, 768, 768, 151296, 742656)
    """

    projection: int  # W_E: P²C × d
    bias: int  # b: d
    cls: int  # [CLS]: d
    positions: int  # one row per token: (N + 1) × d

    @property
    def linear(self) -> int:
        """W_E and b: P²C·d + d, the patch embedding proper (a Conv2d's weight and bias)."""
        return self.projection + self.bias

    @property
    def total(self) -> int:
        return self.projection + self.bias + self.cls + self.positions


def embedding_params(patch: int, channels: int, d: int, n: int) -> EmbeddingParams:
    """The parameters of W_E and b (a dense layer from P²C to d inputs), [CLS] and N + 1 positions."""
    layer = param_count((patch_values(patch, channels), d)).layers[0]
    return EmbeddingParams(layer.weights, layer.biases, d, (n + 1) * d)


# --------------------------------------------------------------------------- random inputs


def init_bound(patch: int, channels: int) -> float:
    """1/√(P²C): the range PyTorch draws a Conv2d's (or Linear's) initial weights from, ±this."""
    return 1.0 / float(np.sqrt(patch_values(patch, channels)))


def random_image(rng: np.random.Generator, height: int, width: int, channels: int) -> np.ndarray:
    """Pixels uniform in [0, 1], rounded to 2 decimals, H × W × C."""
    return np.round(rng.uniform(0.0, 1.0, size=(height, width, channels)), 2)


def random_projection(rng: np.random.Generator, patch: int, channels: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """W_E (P²C × d) and b (d), uniform in ±1/√(P²C), rounded to 2 decimals (3 when that range is below 0.1)."""
    bound = init_bound(patch, channels)
    decimals = 2 if bound >= 0.1 else 3
    we = np.round(rng.uniform(-bound, bound, size=(patch_values(patch, channels), d)), decimals)
    b = np.round(rng.uniform(-bound, bound, size=d), decimals)
    return we + 0.0, b + 0.0


def random_tokens(rng: np.random.Generator, rows: int, d: int) -> np.ndarray:
    """A [CLS] token or a position table: uniform in ±0.5, rounded to 2 decimals, rows × d."""
    return np.round(rng.uniform(-0.5, 0.5, size=(rows, d)), 2) + 0.0
