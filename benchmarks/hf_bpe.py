"""For scale: the HuggingFace ``tokenizers`` BPE trainer (Rust) on the same corpus.

Words are split on whitespace and end with ``</w>``, as in subword-nmt and the
bpe lesson; the vocabulary is sized so that training learns ``--merges`` merges
on top of the initial symbols. It is not expected to give the same merges (its
tie-breaking differs): the benchmark reports its time, with no target.

    python benchmarks/hf_bpe.py corpus.txt --merges 1000
"""

from __future__ import annotations

import argparse
import sys


def initial_symbols(path: str) -> int:
    """How many symbols training starts from: every character, and every word-final one with ``</w>``."""
    symbols: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            for word in line.split():
                symbols.update(word[:-1])
                symbols.add(word[-1] + "</w>")
    return len(symbols)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train HuggingFace tokenizers' BPE on a text file.")
    parser.add_argument("corpus")
    parser.add_argument("--merges", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    except ImportError:
        print("HuggingFace tokenizers is not installed (pip install tokenizers)", file=sys.stderr)
        return 2
    tokenizer = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(
        vocab_size=initial_symbols(args.corpus) + args.merges,
        min_frequency=2,
        show_progress=False,
        end_of_word_suffix="</w>",
    )
    tokenizer.train([args.corpus], trainer)
    print(f"vocabulary {tokenizer.get_vocab_size()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
