"""One training step of the tiny model: nntutor's NumPy code against the same model in PyTorch.

Both sides run the same step on the same batch, in float64, on one thread
(threadpoolctl for NumPy's BLAS, ``torch.set_num_threads(1)``): the forward pass,
the mean next-token loss, the backward pass and an AdamW update (weight decay on
the matrices only). PyTorch uses autograd and ``torch.optim.AdamW``; the
architecture is the test oracle's (``tests/test_lm.py``), written again here so
the benchmark stands alone.

It times ``--steps`` steps after ``--warmup`` unmeasured ones and writes, as its
last line on stderr, ``{"seconds_per_step": …, "cpu_seconds_per_step": …}`` (the
medians over ``--repeats`` blocks of steps, wall-clock and CPU time): the benchmark suite reads that number, so the import of either
library is not part of the comparison.

    python benchmarks/train_step.py --impl numpy --batch-size 16 --steps 50
    python benchmarks/train_step.py --impl torch --batch-size 16 --steps 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def numpy_stepper(tokens: np.ndarray, settings):
    """nntutor's own training step (:class:`nntutor.models.train.Stepper`, what ``nntutor train`` runs)."""
    from nntutor.core.lm import init_weights, parameters
    from nntutor.models.train import Settings, Stepper

    rng = np.random.default_rng(0)
    params = parameters(init_weights(rng, settings.vocab, settings.d_model, settings.layers))
    stepper = Stepper(params, Settings(lr=3e-3, weight_decay=0.01, d_model=settings.d_model, layers=settings.layers, heads=settings.heads))
    return lambda: stepper.step(tokens)


def torch_stepper(tokens: np.ndarray, settings):
    import torch

    torch.set_num_threads(1)
    F = torch.nn.functional
    from nntutor.core.block import WEIGHT_SHAPES
    from nntutor.core.lm import decayed_names, init_weights, parameters

    rng = np.random.default_rng(0)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in parameters(init_weights(rng, settings.vocab, settings.d_model, settings.layers)).items()}
    decay = decayed_names(settings.layers)
    optimizer = torch.optim.AdamW(
        [{"params": [p for k, p in params.items() if k in decay], "weight_decay": 0.01},
         {"params": [p for k, p in params.items() if k not in decay], "weight_decay": 0.0}],
        lr=3e-3,
    )
    ids = torch.tensor(tokens)
    inputs, targets = ids[:, :-1], ids[:, 1:].reshape(-1)
    B, T = inputs.shape
    d, heads = settings.d_model, settings.heads
    position = torch.arange(T, dtype=torch.float64)[:, None]
    rates = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * rates)
    pe[:, 1::2] = torch.cos(position * rates)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    dh = d // heads

    def forward():
        x = params["E"][inputs] + pe
        for i in range(settings.layers):
            p = {key: params[f"block{i}.{key}"] for key in WEIGHT_SHAPES}
            a = F.layer_norm(x, (d,), p["ln1_gamma"], p["ln1_beta"], 1e-5)
            q, k, v = ((a @ p[w] + p[b]).view(B, T, heads, dh).transpose(1, 2) for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv")))
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = x + att.transpose(1, 2).reshape(B, T, d) @ p["wo"] + p["bo"]
            f = F.layer_norm(x, (d,), p["ln2_gamma"], p["ln2_beta"], 1e-5)
            x = x + torch.relu(f @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        x = F.layer_norm(x, (d,), params["final_gamma"], params["final_beta"], 1e-5)
        return x @ params["W_U"]

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward().reshape(B * T, -1), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("numpy", "torch"), required=True)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=238)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    settings = parser.parse_args(argv)
    tokens = np.random.default_rng(1).integers(0, settings.vocab, size=(settings.batch_size, settings.context + 1))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        step = (numpy_stepper if settings.impl == "numpy" else torch_stepper)(tokens, settings)
        for _ in range(settings.warmup):
            step()
        blocks, cpu = [], []
        for _ in range(settings.repeats):
            began, began_cpu = time.perf_counter(), time.process_time()
            for _ in range(settings.steps):
                loss = step()
            blocks.append((time.perf_counter() - began) / settings.steps)
            cpu.append((time.process_time() - began_cpu) / settings.steps)
    wall, cpu_time = statistics.median(blocks), statistics.median(cpu)
    print(f"{settings.impl}: {wall * 1000:.2f} ms per step, {cpu_time * 1000:.2f} ms CPU (last loss {loss:.4f})")
    sys.stderr.write(json.dumps({"seconds_per_step": wall, "cpu_seconds_per_step": cpu_time}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
