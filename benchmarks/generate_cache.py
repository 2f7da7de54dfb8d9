"""Generation with the KV cache against recomputing the whole sequence for every new token.

Both sides continue the same prompt by ``--tokens`` greedy tokens with the same random
pipeline weights (d_model ``--d-model``, ``--layers`` pre-norm blocks of ``--heads`` heads,
vocabulary ``--vocab``), in float64 on one thread: ``cache`` is
:func:`nntutor.core.kvcache.generate` (one row per layer and token), ``recompute`` runs
:func:`nntutor.core.pipeline.forward` on the whole prefix for every token. The tokens are
checked to be the same. Each side times its own generation and writes, as its last line on
stderr, ``{"seconds_per_step": …, "cpu_seconds_per_step": …}`` per new token (the benchmark
suite reads that line, so importing NumPy is not part of the comparison).

    python benchmarks/generate_cache.py --mode cache
    python benchmarks/generate_cache.py --mode recompute
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("cache", "recompute"), required=True)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--prompt", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=238)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from nntutor.core.kvcache import generate
    from nntutor.core.pipeline import forward, random_pipeline_weights

    w = random_pipeline_weights(np.random.default_rng(0), args.vocab, args.d_model, args.layers)
    prompt = np.random.default_rng(1).integers(1, args.vocab, size=args.prompt)
    with threadpool_limits(limits=1, user_api="blas"):
        began, began_cpu = time.perf_counter(), time.process_time()
        if args.mode == "cache":
            tokens = generate(prompt, w, heads=args.heads, count=args.tokens).tokens.tolist()
        else:
            seq = prompt.tolist()
            for _ in range(args.tokens):
                seq.append(forward(np.array(seq), w, heads=args.heads).next_id)
            tokens = seq[args.prompt:]
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    print(f"{args.mode}: {wall * 1000 / args.tokens:.3f} ms per token, tokens {tokens[:8]} …")
    print(json.dumps({"seconds_per_step": wall / args.tokens, "cpu_seconds_per_step": cpu / args.tokens, "tokens": tokens}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
