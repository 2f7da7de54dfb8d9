"""A Llama-architecture decoder in NumPy, as GGUF files store it (SmolLM2, TinyLlama, Llama 2/3 share it).

One block, for the rows X of the residual stream (one row per token):

    A = RMSNorm(X)·g₁              RMSNorm(x) = x / √(mean(x²) + ε)
    Q = A·W_Qᵀ, K = A·W_Kᵀ, V = A·W_Vᵀ   then RoPE on Q and K, head by head
    X = X + softmax(Q·Kᵀ/√d_head + causal mask)·V · W_Oᵀ
    B = RMSNorm(X)·g₂
    X = X + (SiLU(B·W_gateᵀ) ⊙ B·W_upᵀ) · W_downᵀ     (SwiGLU)

then a final RMSNorm and the output matrix (the token embedding itself when tied).
Weights are (out × in), one row per output, as in the file.

Rotary position embedding rotates pairs of a head's coordinates by an angle that
grows with the position: pair i turns by p·θᵢ, θᵢ = base^(−2i/d_head). GGUF stores Q
and K with their rows permuted by the converter so that the pairs are *adjacent*
coordinates (0,1), (2,3), …; the Hugging Face layout pairs i with i + d_head/2
instead. The arithmetic is the same rotation, on rows in another order.

Grouped-query attention: n_head_kv ≤ n_head key/value heads; query head h reads
key/value head h // (n_head / n_head_kv).

>>> x = np.array([[3.0, 4.0]])
>>> rms_norm(x, np.ones(2), 0.0)[0].round(4).tolist()
[[0.8485, 1.1314]]
>>> apply_rope(np.array([[1.0, 0.0]]), *rope_angles(np.array([1]), 2, 10000.0)).round(4).tolist()
[[0.5403, 0.8415]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

Weights = Callable[[str], np.ndarray]  # name ("blk.0.attn_q.weight") -> array, out × in


def rms_norm(x: np.ndarray, gain: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row divided by its root mean square, times the gain: (y, rms per row).

    >>> y, rms = rms_norm(np.array([[1.0, -1.0, 1.0, -1.0]]), np.array([1.0, 2.0, 1.0, 1.0]), 0.0)
    >>> y.tolist(), rms.tolist()
    ([[1.0, -2.0, 1.0, -1.0]], [1.0])
    """
    rms = np.sqrt(np.mean(x * x, axis=-1) + eps)
    return x / rms[..., None] * gain, rms


def rope_angles(positions: np.ndarray, head_dim: int, base: float, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of p·θᵢ for every position p and pair i, θᵢ = base^(−2i/d): each (n × d/2).

    >>> c, s = rope_angles(np.array([0, 2]), 4, 100.0)
    >>> np.degrees(np.arctan2(s, c)).round(2).tolist()  # pair 0 turns 1 rad per position, pair 1 0.1 rad
    [[0.0, 0.0], [114.59, 11.46]]
    """
    theta = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * theta[None, :]
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate adjacent pairs (x₂ᵢ, x₂ᵢ₊₁) of each row by the row's angles (GGUF's layout).

    ``x`` is (…, n, d); ``cos``/``sin`` are (n, d/2).
    """
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def silu(z: np.ndarray) -> np.ndarray:
    """z·σ(z) = z / (1 + e^(−z)).  ``silu(np.array([0.0, 1.0])) -> [0, 0.7311]``"""
    return z / (1.0 + np.exp(-z))


def swiglu(b: np.ndarray, w_gate: np.ndarray, w_up: np.ndarray, w_down: np.ndarray) -> tuple[np.ndarray, ...]:
    """SiLU(b·W_gateᵀ) ⊙ (b·W_upᵀ), then ·W_downᵀ: (gate, up, hidden, out)."""
    gate = b @ w_gate.T
    up = b @ w_up.T
    hidden = silu(gate) * up
    return gate, up, hidden, hidden @ w_down.T


def softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def kv_head_of(head: int, n_head: int, n_head_kv: int) -> int:
    """The key/value head query head ``head`` reads: ``kv_head_of(4, 9, 3) -> 1`` (heads 3, 4, 5 share it)."""
    return head // (n_head // n_head_kv)


# --------------------------------------------------------------------------- the forward pass


class Zoom(NamedTuple):
    """What to keep in full: one layer, one query head, one position (0-based)."""

    layer: int
    head: int
    position: int


class HeadDetail(NamedTuple):
    """One head of one layer at one position, every piece of its arithmetic."""

    x_row: np.ndarray  # the residual row entering the block (d)
    rms: float  # its root mean square, √(mean(x²) + ε)
    gain: np.ndarray  # the RMSNorm gain g₁ (d)
    normed_row: np.ndarray  # x / rms · g₁ (d)
    q_raw: np.ndarray  # this head's query before RoPE (d_head)
    q: np.ndarray  # after RoPE (d_head)
    queries: np.ndarray  # this head's queries after RoPE at every position of the call (n × d_head)
    k: np.ndarray  # the shared key head's keys after RoPE, positions 0…p (p+1 × d_head)
    v: np.ndarray  # the shared value head's values, positions 0…p (p+1 × d_head)
    scores: np.ndarray  # q·kⱼ / √d_head for j = 0…p
    weights: np.ndarray  # softmax of the scores
    out: np.ndarray  # Σⱼ weightⱼ·vⱼ (d_head)
    kv_head: int
    cos: np.ndarray  # the rotation at position p (d_head/2)
    sin: np.ndarray


class FFNDetail(NamedTuple):
    """The feed-forward of one layer at one position."""

    x_row: np.ndarray  # the residual row after attention (d)
    rms: float
    gain: np.ndarray  # g₂
    normed_row: np.ndarray  # B's row (d)
    gate: np.ndarray  # B·W_gateᵀ (d_ff)
    up: np.ndarray  # B·W_upᵀ (d_ff)
    hidden: np.ndarray  # SiLU(gate) ⊙ up (d_ff)
    out: np.ndarray  # hidden·W_downᵀ (d)
    w_gate_row: np.ndarray  # the rows of W_gate and W_up for the strongest hidden unit (d)
    w_up_row: np.ndarray
    unit: int  # that unit


class LayerSummary(NamedTuple):
    """One block, in a few numbers: residual-stream norms and (if asked) the logit lens."""

    norm_in: float  # ‖x‖ of the zoomed position entering the block
    attn_norm: float  # ‖attention output‖ added to it
    ffn_norm: float  # ‖feed-forward output‖ added to it
    norm_out: float  # ‖x‖ leaving the block
    lens_top: int | None  # the token the output layer would pick from this row (logit lens)
    lens_prob: float | None


class Forward(NamedTuple):
    logits: np.ndarray  # (n_new × vocab)
    layers: list[LayerSummary]
    head: HeadDetail | None
    ffn: FFNDetail | None
    final_rms: float  # the final norm's rms of the zoomed row
    rows: np.ndarray | None = None  # with rows=True: the zoomed row entering layer 0, then after each block
    final: np.ndarray | None = None  # the rows after the final RMSNorm, what the output matrix multiplies (like logits)


class KVCache:
    """Keys (after RoPE) and values of every layer, for the tokens seen so far."""

    def __init__(self, n_layer: int) -> None:
        self.k: list[np.ndarray | None] = [None] * n_layer
        self.v: list[np.ndarray | None] = [None] * n_layer
        self.length = 0


def _output_matrix(config: Any, weights: Weights) -> np.ndarray:
    return weights("token_embd.weight" if config.tied else "output.weight")


def forward(
    config: Any,
    weights: Weights,
    ids: list[int] | np.ndarray,
    *,
    cache: KVCache | None = None,
    zoom: Zoom | None = None,
    lens: bool = False,
    all_logits: bool = True,
    dtype: Any = np.float32,
    rows: bool = False,
) -> Forward:
    """Run the tokens ``ids`` (positions after those already in ``cache``) through the model.

    ``config`` has the sizes (:class:`nntutor.models.gguf_file.LlamaConfig`); ``weights(name)``
    returns a tensor, dequantised when asked for, so a layer's weights can be dropped
    after it. ``zoom`` keeps one head, one RMSNorm and one SwiGLU row in full (its
    position counts from the start of this call); ``lens`` adds the logit lens per layer
    (``zoom`` gives the row it reads); ``all_logits=False`` returns the last row only (of the
    logits and of ``final``, the rows after the final RMSNorm that the output matrix multiplies);
    ``rows`` keeps that row of the residual stream as it enters layer 0 and after every
    block ((n_layer + 1) × d_model: what transformers calls the hidden states).
    """
    ids = np.asarray(ids, dtype=np.int64)
    n = ids.size
    start = cache.length if cache is not None else 0
    hd, nh, nkv = config.head_dim, config.n_head, config.n_head_kv
    group = nh // nkv
    eps = config.rms_eps
    x = weights("token_embd.weight")[ids].astype(dtype)
    cos, sin = rope_angles(np.arange(start, start + n), hd, config.rope_base, dtype)
    zp = zoom.position if zoom is not None else n - 1
    mask = np.triu(np.full((n, start + n), -np.inf, dtype=dtype), k=start + 1)
    scale = np.dtype(dtype).type(1.0 / np.sqrt(hd))
    out_matrix = _output_matrix(config, weights) if lens else None
    final_gain = weights("output_norm.weight").astype(dtype) if lens else None
    layers: list[LayerSummary] = []
    head_detail = ffn_detail = None
    kept = [x[zp].copy()] if rows else None
    for layer in range(config.n_layer):
        w = lambda part, layer=layer: weights(f"blk.{layer}.{part}.weight").astype(dtype, copy=False)  # noqa: E731
        norm_in = float(np.linalg.norm(x[zp]))
        g1 = w("attn_norm")
        a, rms1 = rms_norm(x, g1, eps)
        q = (a @ w("attn_q").T).reshape(n, nh, hd).transpose(1, 0, 2)
        k = (a @ w("attn_k").T).reshape(n, nkv, hd).transpose(1, 0, 2)
        v = (a @ w("attn_v").T).reshape(n, nkv, hd).transpose(1, 0, 2)
        q_raw = q
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            if cache.k[layer] is not None:
                k = np.concatenate([cache.k[layer], k], axis=1)
                v = np.concatenate([cache.v[layer], v], axis=1)
            cache.k[layer], cache.v[layer] = k, v
        qg = q.reshape(nkv, group, n, hd)  # query heads grouped by the key/value head they share
        scores = np.einsum("gqnd,gtd->gqnt", qg, k) * scale + mask
        attn = softmax_rows(scores)
        heads = np.einsum("gqnt,gtd->gqnd", attn, v).reshape(nh, n, hd)
        attn_out = heads.transpose(1, 0, 2).reshape(n, nh * hd) @ w("attn_output").T
        if zoom is not None and layer == zoom.layer:
            h, kvh = zoom.head, zoom.head // group
            upto = start + zp + 1
            head_detail = HeadDetail(
                x_row=x[zp].copy(), rms=float(rms1[zp]), gain=g1, normed_row=a[zp].copy(),
                q_raw=q_raw[h, zp].copy(), q=q[h, zp].copy(), queries=q[h].copy(), k=k[kvh, :upto].copy(), v=v[kvh, :upto].copy(),
                scores=scores[kvh, h % group, zp, :upto].copy(), weights=attn[kvh, h % group, zp, :upto].copy(),
                out=heads[h, zp].copy(), kv_head=kvh, cos=cos[zp].copy(), sin=sin[zp].copy(),
            )
        x = x + attn_out
        g2 = w("ffn_norm")
        b, rms2 = rms_norm(x, g2, eps)
        w_gate, w_up = w("ffn_gate"), w("ffn_up")
        gate, up, hidden, ffn_out = swiglu(b, w_gate, w_up, w("ffn_down"))
        if zoom is not None and layer == zoom.layer:
            unit = int(np.argmax(np.abs(hidden[zp])))
            ffn_detail = FFNDetail(
                x_row=x[zp].copy(), rms=float(rms2[zp]), gain=g2, normed_row=b[zp].copy(), gate=gate[zp].copy(),
                up=up[zp].copy(), hidden=hidden[zp].copy(), out=ffn_out[zp].copy(),
                w_gate_row=w_gate[unit].copy(), w_up_row=w_up[unit].copy(), unit=unit,
            )
        x = x + ffn_out
        if kept is not None:
            kept.append(x[zp].copy())
        top = prob = None
        if lens:
            row, _ = rms_norm(x[zp], final_gain, eps)
            p = softmax_rows((out_matrix @ row.astype(out_matrix.dtype))[None, :])[0]
            top = int(np.argmax(p))
            prob = float(p[top])
        layers.append(LayerSummary(norm_in, float(np.linalg.norm(attn_out[zp])), float(np.linalg.norm(ffn_out[zp])),
                                   float(np.linalg.norm(x[zp])), top, prob))
    final, final_rms = rms_norm(x if all_logits else x[-1:], weights("output_norm.weight").astype(dtype), eps)
    logits = final @ _output_matrix(config, weights).astype(dtype, copy=False).T
    if cache is not None:
        cache.length = start + n
    zoom_rms = float(final_rms[zp] if all_logits else final_rms[-1])
    return Forward(logits, layers, head_detail, ffn_detail, zoom_rms, None if kept is None else np.stack(kept), final)


def residual_turns(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The length of each residual row (``rows``: the row entering layer 0, then after each
    block) and the cosine between each row and the next: how far each block turned it.

    >>> lengths, cos = residual_turns(np.array([[3.0, 4.0], [0.0, 5.0], [0.0, -1.0]]))
    >>> lengths.tolist(), cos.round(4).tolist()
    ([5.0, 5.0, 1.0], [0.8, -1.0])
    """
    rows = np.asarray(rows, dtype=np.float64)
    lengths = np.linalg.norm(rows, axis=1)
    return lengths, np.einsum("ld,ld->l", rows[:-1], rows[1:]) / (lengths[:-1] * lengths[1:])
