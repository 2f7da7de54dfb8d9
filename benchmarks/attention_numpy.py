"""The NumPy-only baseline for ``nntutor lesson attention --seq-len N --d-model D --seed S``.

Computes the same attention on the same inputs as the lesson, written the way one
would in a plain script: X = round(uniform(-1, 1, (n, d)), 2) from
``np.random.default_rng(seed)``, identity projections (Q = K = V = X), scores scaled
by √d, a numerically stable softmax along each row, then weights · V. It prints a
one-line summary (so the work cannot be skipped) instead of the matrices.

    python benchmarks/attention_numpy.py --seq-len 2048 --d-model 512 --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np


def attention(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weights, output) of softmax(X·Xᵀ/√d)·X.

    >>> w, o = attention(np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> np.round(w, 4).tolist()
    [[0.67, 0.33], [0.33, 0.67]]
    """
    scores = x @ x.T / np.sqrt(x.shape[1])
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return weights, weights @ x


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    x = np.round(rng.uniform(-1.0, 1.0, size=(args.seq_len, args.d_model)), 2)
    weights, output = attention(x)
    print(f"weights {weights.shape} output {output.shape} checksum {output.sum():.6f}")


if __name__ == "__main__":
    main()
