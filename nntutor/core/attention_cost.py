"""What attention costs as the sequence grows: score memory, FLOPs, the crossover, a timing.

Counts, for sequence length n, model width d (d_model), h heads, L layers, a batch of B
sequences, an FFN of width d_ff and ``bytes`` per number:

- the score matrices: n·k·h·L·B numbers, where k = n keys per query (k = min(w, n) with a
  sliding window of w keys), so n² numbers per head, per layer, per sequence;
- FLOPs of one layer on one sequence, counting a multiply-add as 2 FLOPs and matrix
  products only: Q·Kᵀ and A·V take 2·n·k·d each (the h heads of width d/h add up to d),
  the four projections W_Q, W_K, W_V, W_O take 4 × 2·n·d², the FFN 2 × 2·n·d·d_ff;
- the crossover, where attention's 4n²d equals the rest's 8nd² + 4nd·d_ff: n = 2d + d_ff
  (6d when d_ff = 4d).

Worked example, n = 512, d = 512, d_ff = 2048: one FP32 score matrix is
512² × 4 = 1,048,576 bytes (1 MiB); attention takes 4 × 512² × 512 = 536,870,912 FLOPs,
the projections 8 × 512 × 512² = 1,073,741,824 and the FFN 4 × 512 × 512 × 2048 =
2,147,483,648; they cross at n = 2 × 512 + 2048 = 3072.

>>> score_memory([512, 131072], bytes_per_number=4).tolist()  # one FP32 matrix: 1 MiB, 64 GiB
[1048576.0, 68719476736.0]
>>> f = layer_flops([512], 512, 2048)
>>> f.attention.tolist(), f.projections.tolist(), f.ffn.tolist(), crossover(512, 2048)
([536870912.0], [1073741824.0], [2147483648.0], 3072)

Everything but :func:`time_attention` is arithmetic on the sizes (no n×n array is made);
:func:`time_attention` runs nntutor's own attention (:func:`nntutor.core.attention.attend`)
and reads a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from nntutor.core.attention import attend

# Bytes per number of the formats attention is stored in.
BYTES = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2}


def keys_seen(n, window: int | None = None) -> np.ndarray:
    """Keys each query scores: n, or min(w, n) with a sliding window of w keys.

    >>> keys_seen([512, 8192], window=4096).tolist()
    [512.0, 4096.0]
    """
    n = np.asarray(n, dtype=np.float64)
    return n.copy() if window is None else np.minimum(n, float(window))


def score_numbers(n, heads: int = 1, layers: int = 1, batch: int = 1, window: int | None = None) -> np.ndarray:
    """How many attention scores exist at once: n·k·h·L·B (k = keys per query, :func:`keys_seen`).

    >>> score_numbers([512], heads=8, layers=6).tolist()  # 512² × 8 × 6
    [12582912.0]
    """
    n = np.asarray(n, dtype=np.float64)
    return n * keys_seen(n, window) * heads * layers * batch


def score_memory(n, heads: int = 1, layers: int = 1, batch: int = 1, bytes_per_number: int = 4, window: int | None = None) -> np.ndarray:
    """Bytes of the score matrices: n·k·h·L·B·bytes (one FP32 n×n matrix by default).

    >>> score_memory([2048], heads=8, layers=6, bytes_per_number=2).tolist()  # 2048² × 8 × 6 × 2
    [402653184.0]
    """
    return score_numbers(n, heads, layers, batch, window) * bytes_per_number


class LayerFlops(NamedTuple):
    """FLOPs of one transformer layer on one sequence, for each n (a multiply-add is 2 FLOPs).

    ``scores`` is Q·Kᵀ and ``mix`` is A·V (2·n·k·d each; ``attention`` is both);
    ``projections`` the four d×d matrices (8·n·d²), ``ffn`` the two FFN layers (4·n·d·d_ff);
    ``linear`` = projections + FFN, the part that grows like n·d²; ``ratio`` = attention / linear.
    """

    scores: np.ndarray
    mix: np.ndarray
    attention: np.ndarray
    projections: np.ndarray
    ffn: np.ndarray
    linear: np.ndarray
    total: np.ndarray
    ratio: np.ndarray


def layer_flops(n, d_model: int, d_ff: int | None = None, window: int | None = None) -> LayerFlops:
    """Matrix-product FLOPs of one layer on one sequence of each length n.

    d_ff defaults to 4·d_model. With a window of w keys, Q·Kᵀ and A·V take 2·n·min(w, n)·d.

    >>> f = layer_flops([3072], 512)  # the crossover of d = 512: attention = the rest
    >>> f.attention.tolist(), f.linear.tolist(), f.ratio.tolist()
    ([19327352832.0], [19327352832.0], [1.0])
    """
    n = np.asarray(n, dtype=np.float64)
    d = float(d_model)
    width = 4.0 * d if d_ff is None else float(d_ff)
    k = keys_seen(n, window)
    scores = 2.0 * n * k * d
    mix = 2.0 * n * k * d
    attention = scores + mix
    projections = 8.0 * n * d * d
    ffn = 4.0 * n * d * width
    linear = projections + ffn
    return LayerFlops(scores, mix, attention, projections, ffn, linear, attention + linear, attention / linear)


def crossover(d_model: int, d_ff: int | None = None) -> int:
    """The n where attention's FLOPs equal the projections' and FFN's: 4n²d = 8nd² + 4nd·d_ff.

    Dividing by 4nd: n = 2d + d_ff; with d_ff = 4d, n = 6d.

    >>> crossover(512), crossover(768, 3072), crossover(64, 64)
    (3072, 4608, 192)
    """
    return 2 * int(d_model) + (4 * int(d_model) if d_ff is None else int(d_ff))


def causal_window_pairs(n, window: int) -> np.ndarray:
    """(query, key) pairs of a causal sliding window: query i sees keys i − w + 1 … i (from 0).

    Σᵢ min(i + 1, w) = n·w − w(w − 1)/2 once n ≥ w, and n(n + 1)/2 below: the first w − 1
    queries have fewer than w keys, so n·min(w, n) (the band a kernel computes) is an upper bound.

    >>> causal_window_pairs([3, 10], 4).tolist()  # 1 + 2 + 3; 10×4 − 4×3/2
    [6.0, 34.0]
    """
    n = np.asarray(n, dtype=np.float64)
    w = float(window)
    return np.where(n >= w, n * w - w * (w - 1) / 2, n * (n + 1) / 2)


def window_crossover(d_model: int, d_ff: int | None, window: int) -> int | None:
    """The crossover with a sliding window of w keys, or None when attention never overtakes.

    Past n = w attention costs 4·n·w·d, linear in n like the rest: its share stops growing.
    So attention overtakes only if w > 2d + d_ff, and then at the same n = 2d + d_ff (< w).

    >>> window_crossover(512, None, 4096), window_crossover(512, None, 2048)
    (3072, None)
    """
    n = crossover(d_model, d_ff)
    return n if window > n else None


# --------------------------------------------------------------------------- measured


class SlopeFit(NamedTuple):
    """A straight line fitted to log₂ t against log₂ n: t ≈ 2^intercept · n^slope.

    ``x`` = log₂ n, ``y`` = log₂ t (the points fitted), ``x_mean`` and ``y_mean`` their means.
    """

    slope: float
    intercept: float
    x: np.ndarray
    y: np.ndarray
    x_mean: float
    y_mean: float


def loglog_slope(n, seconds) -> SlopeFit:
    """Least-squares slope of log₂ t against log₂ n: s = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)².

    A time that grows like n² has slope 2: doubling n adds 1 to x and 2 to y.

    >>> fit = loglog_slope([256, 512, 1024], [0.001, 0.004, 0.016])
    >>> round(fit.slope, 12), fit.x.tolist()
    (2.0, [8.0, 9.0, 10.0])
    """
    x = np.log2(np.asarray(n, dtype=np.float64))
    y = np.log2(np.asarray(seconds, dtype=np.float64))
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError("a slope needs at least two different lengths")
    x_mean, y_mean = float(x.mean()), float(y.mean())
    slope = float(np.sum((x - x_mean) * (y - y_mean)) / np.sum((x - x_mean) ** 2))
    return SlopeFit(slope, y_mean - slope * x_mean, x, y, x_mean, y_mean)


def timing_estimate(lengths: Sequence[int], width: int, repeats: int, flops_per_second: float = 4e9, seconds_per_score: float = 2e-8):
    """(seconds, bytes) that :func:`time_attention` may need: an estimate at a modest CPU's rates.

    Per run at length n: 4·n²·width FLOPs for Q·Kᵀ and A·V, and a few passes over the n²
    scores (max, exp, sum, divide); memory: the scores and the weights (n² each, float64),
    one more n×n array of working space, and Q, K, V and the output (n × width each).

    >>> seconds, needed = timing_estimate([1000], 64, 1)
    >>> round(seconds, 3), needed  # 4×10⁶×64 / (4×10⁹) + 10⁶ × 2×10⁻⁸; 8 × (3×10⁶ + 4×64 000)
    (0.084, 26048000)
    """
    n = np.asarray(lengths, dtype=np.float64)
    per_run = 4.0 * n * n * width / flops_per_second + n * n * seconds_per_score
    seconds = float(repeats * per_run.sum())
    needed = int(8 * (3 * n.max() ** 2 + 4 * n.max() * width))
    return seconds, needed


def time_attention(
    lengths: Sequence[int],
    width: int,
    repeats: int = 5,
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> np.ndarray:
    """Seconds nntutor's attention takes at each length: the best of ``repeats`` runs.

    Q, K and V are n × width, drawn from a normal distribution with ``seed``; each run is
    one call of :func:`nntutor.core.attention.attend` (scores, softmax, A·V), timed by
    ``clock``, after one untimed warm-up call. The best run is the least disturbed by
    whatever else the machine does.

    >>> ticks = iter(range(100))  # a clock that advances 1 per call: every run takes 1
    >>> time_attention([4, 8], 2, repeats=2, clock=lambda: float(next(ticks))).tolist()
    [1.0, 1.0]
    """
    rng = np.random.default_rng(seed)
    best = np.empty(len(lengths), dtype=np.float64)
    for i, n in enumerate(lengths):
        q, k, v = (rng.standard_normal((int(n), int(width))) for _ in range(3))
        if i == 0:
            attend(q, k, v)  # untimed: the first call starts the linear-algebra library's threads
        fastest = np.inf
        for _ in range(max(int(repeats), 1)):
            start = clock()
            attend(q, k, v)
            fastest = min(fastest, clock() - start)
        best[i] = fastest
    return best
