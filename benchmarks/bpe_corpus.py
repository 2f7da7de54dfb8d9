"""Assemble about 1 MB of real English prose, offline, for the BPE benchmark.

The text comes from what a Debian system ships: the licence texts in
``/usr/share/common-licenses`` first, then prose-like documentation under
``/usr/share/doc`` (README*, FAQ*, *.txt, *.md and NEWS*, plain or ``.gz``).
Files are taken in sorted path order; exact duplicates (the same licence under
several names), files that are not UTF-8 text and files that do not read like
prose (too few common English words: tables, code) are skipped, so
the same machine always yields the same corpus. The result is cut at a line
boundary once it reaches ``--size`` bytes.

    python benchmarks/bpe_corpus.py /tmp/corpus.txt            # about 1,000,000 bytes
    python benchmarks/bpe_corpus.py /tmp/small.txt --size 200000

Then compare (identical merges expected):

    time nntutor lesson bpe --file /tmp/corpus.txt --merges 1000 --format json > /dev/null
    time subword-nmt learn-bpe -s 1000 -i /tmp/corpus.txt -o /tmp/codes.txt
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

LICENCES = Path("/usr/share/common-licenses")
DOCS = Path("/usr/share/doc")
# Prose first (READMEs, FAQs, plain-text and Markdown documents), then release notes.
DOC_PATTERNS = (("README*", "FAQ*", "*.txt", "*.txt.gz", "*.md", "*.md.gz"), ("NEWS*",))
MAX_FILE_BYTES = 2_000_000
# A file counts as prose when common English function words make up at least this
# share of its words (tables of font names or code listings fall far below it).
FUNCTION_WORDS = frozenset(
    ["the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "be", "as", "with", "this", "are", "or", "by", "not", "on", "you", "an", "if", "can"]
)
MIN_FUNCTION_SHARE = 0.15


def _read(path: Path) -> str | None:
    """The file's text, or None when it is not UTF-8 text (or is unreadable)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_prose(text: str) -> bool:
    """True when the text reads like English sentences rather than a table or code."""
    words = text.lower().split()
    if len(words) < 20:
        return False
    common = sum(1 for word in words if word in FUNCTION_WORDS)
    return common / len(words) >= MIN_FUNCTION_SHARE


def candidate_files() -> Iterator[Path]:
    """Every source file, in a fixed order."""
    if LICENCES.is_dir():
        yield from sorted(p for p in LICENCES.iterdir() if p.is_file())
    if DOCS.is_dir():
        for patterns in DOC_PATTERNS:
            found = {p for pattern in patterns for p in DOCS.rglob(pattern) if p.is_file()}
            yield from sorted(found)


def assemble(size: int) -> str:
    """About ``size`` bytes of UTF-8 text, cut at a line boundary."""
    parts: list[str] = []
    total = 0
    seen: set[str] = set()
    for path in candidate_files():
        text = _read(path)
        if not text or not is_prose(text):
            continue
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        if not text.endswith("\n"):
            text += "\n"
        for line in text.splitlines(keepends=True):
            parts.append(line)
            total += len(line.encode("utf-8"))
            if total >= size:
                return "".join(parts)
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="where to write the corpus (UTF-8)")
    parser.add_argument("--size", type=int, default=1_000_000, help="bytes wanted (default 1,000,000)")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be positive")
    text = assemble(args.size)
    if not text:
        print("no text found under /usr/share/common-licenses or /usr/share/doc", file=sys.stderr)
        return 1
    Path(args.output).write_text(text, encoding="utf-8", newline="")
    data = text.encode("utf-8")
    print(f"wrote {len(data):,} bytes, {len(text.split()):,} words to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
