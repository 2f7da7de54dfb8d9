"""A test-only PyTorch float64 decoder with the pipeline's architecture, written from the formulas.

Token embedding + sinusoidal positions, pre-norm causal blocks (LN₁ → multi-head attention →
residual, LN₂ → ReLU FFN → residual), a final layer norm, the unembedding. Every matrix product
goes through :meth:`Oracle.mm`, which counts multiply-adds, so the counts can be compared with
the formulas of :mod:`nntutor.core.kvcache`. Not NumPy, not the project's code: an independent
implementation for the oracle tests.
"""

from __future__ import annotations

import math


class Oracle:
    def __init__(self, torch, weights, heads: int, eps: float = 1e-5) -> None:
        self.t = torch
        t = torch
        self.E = t.tensor(weights.E, dtype=t.float64)
        self.W_U = t.tensor(weights.W_U, dtype=t.float64)
        self.blocks = [{k: t.tensor(v, dtype=t.float64) for k, v in b.items()} for b in weights.blocks]
        self.heads = heads
        self.eps = eps
        d = self.E.shape[1]
        final_gamma, final_beta = getattr(weights, "final_gamma", None), getattr(weights, "final_beta", None)
        self.gamma = t.ones(d, dtype=t.float64) if final_gamma is None else t.tensor(final_gamma, dtype=t.float64)
        self.beta = t.zeros(d, dtype=t.float64) if final_beta is None else t.tensor(final_beta, dtype=t.float64)
        self.macs = 0

    def mm(self, a, b):
        """a @ b, counting rows(a)·cols(a)·cols(b) multiply-adds."""
        a2 = a if a.dim() == 2 else a[None, :]
        self.macs += a2.shape[0] * a2.shape[1] * b.shape[-1]
        out = a2 @ b
        return out if a.dim() == 2 else out[0]

    def pe(self, positions):
        t = self.t
        d = self.E.shape[1]
        pos = t.tensor(positions, dtype=t.float64)[:, None]
        i = t.arange(0, d, 2, dtype=t.float64)
        angle = pos / (10000.0 ** (i / d))
        pe = t.zeros(len(positions), d, dtype=t.float64)
        pe[:, 0::2] = t.sin(angle)
        pe[:, 1::2] = t.cos(angle)
        return pe

    def ln(self, x, g, b):
        return self.t.nn.functional.layer_norm(x, (x.shape[-1],), g, b, self.eps)

    def attend(self, q, k, v, causal: bool):
        """q: nq × d, k, v: nk × d; per head on column slices; causal masks key j > query i (aligned at the end)."""
        t = self.t
        d = q.shape[1]
        dh = d // self.heads
        outs, weights = [], []
        nq, nk = q.shape[0], k.shape[0]
        for h in range(self.heads):
            cols = slice(h * dh, (h + 1) * dh)
            s = self.mm(q[:, cols], k[:, cols].T) / math.sqrt(dh)
            if causal:
                mask = t.ones(nq, nk, dtype=t.bool).tril(nk - nq)
                s = s.masked_fill(~mask, float("-inf"))
            a = t.softmax(s, dim=-1)
            weights.append(a)
            outs.append(self.mm(a, v[:, cols]))
        return t.cat(outs, dim=1), t.stack(weights)

    def block(self, x, w, cache=None):
        """One pre-norm block on rows x; with ``cache`` (a dict of K, V), x is the new rows only."""
        a = self.ln(x, w["ln1_gamma"], w["ln1_beta"])
        q = self.mm(a, w["wq"]) + w["bq"]
        k = self.mm(a, w["wk"]) + w["bk"]
        v = self.mm(a, w["wv"]) + w["bv"]
        if cache is not None:
            cache["k"] = k if cache.get("k") is None else self.t.cat([cache["k"], k])
            cache["v"] = v if cache.get("v") is None else self.t.cat([cache["v"], v])
            k, v = cache["k"], cache["v"]
        out, weights = self.attend(q, k, v, causal=True)
        h = x + self.mm(out, w["wo"]) + w["bo"]
        f = self.t.relu(self.mm(self.ln(h, w["ln2_gamma"], w["ln2_beta"]), w["W1"]) + w["b1"])
        return h + self.mm(f, w["W2"]) + w["b2"], weights

    def logits(self, ids, start: int = 0, caches=None):
        """Logits of the last row of ``ids`` (at positions start…); ``caches``: one dict per block."""
        x = self.E[list(ids)] + self.pe(list(range(start, start + len(ids))))
        self.last_weights = []
        for i, w in enumerate(self.blocks):
            x, a = self.block(x, w, None if caches is None else caches[i])
            self.last_weights.append(a)
        h = self.ln(x[-1:], self.gamma, self.beta)
        return self.mm(h, self.W_U)[0]

    def all_logits(self, ids):
        """Logits at every position of ``ids`` (n × V), no cache."""
        x = self.E[list(ids)] + self.pe(list(range(len(ids))))
        self.last_weights = []
        for w in self.blocks:
            x, a = self.block(x, w)
            self.last_weights.append(a)
        return self.mm(self.ln(x, self.gamma, self.beta), self.W_U)

    def generate_cached(self, prompt, new_tokens):
        """Logits for each token of ``new_tokens`` chosen after ``prompt``, with a cache (new_tokens given)."""
        caches = [{} for _ in self.blocks]
        rows = [self.logits(prompt, 0, caches)]
        for j, tok in enumerate(new_tokens[:-1]):
            rows.append(self.logits([tok], len(prompt) + j, caches))
        return self.t.stack(rows)
