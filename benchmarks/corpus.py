"""Assemble ~1 MB of real English prose offline, for the BPE benchmark.

The text comes from what a Debian-like system ships: the licence texts in
``/usr/share/common-licenses`` first, then README, NEWS, copyright and ``*.txt``
files under ``/usr/share/doc`` (``.gz`` ones decompressed). Files are taken in
sorted path order, duplicates (same content) are skipped, and so are files that
do not read as prose (too few letters and spaces, e.g. tables or code), so the
same machine always gives the same corpus. The result is cut at a line boundary
at the requested size.

    python benchmarks/corpus.py corpus.txt              # ~1 MB
    python benchmarks/corpus.py corpus.txt --size 100000
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

SOURCES = (Path("/usr/share/common-licenses"), Path("/usr/share/doc"))
DOC_NAMES = ("readme", "news", "copyright")
DEFAULT_SIZE = 1_000_000
MIN_PROSE_RATIO = 0.9  # letters, spaces and common punctuation over all characters


def _candidates() -> Iterator[Path]:
    licences, docs = SOURCES
    if licences.is_dir():
        yield from sorted(p for p in licences.iterdir() if p.is_file())
    if docs.is_dir():
        found = []
        for root, dirs, files in os.walk(docs):
            dirs.sort()
            for name in files:
                lower = name.lower()
                if lower.startswith(DOC_NAMES) or lower.endswith((".txt", ".txt.gz")):
                    found.append(Path(root) / name)
        yield from sorted(found)


def _read(path: Path) -> str | None:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError):
        return None


def is_prose(text: str) -> bool:
    """True when the text is mostly words (letters, spaces, ordinary punctuation).

    >>> is_prose("This program is free software; you can redistribute it.")
    True
    >>> is_prose("0x1f 0x2e | ++ -- == {} [] 12 34")
    False
    """
    if not text.strip():
        return False
    wordy = sum(1 for ch in text if ch.isalpha() or ch.isspace() or ch in ".,;:'\"()-")
    return wordy / len(text) >= MIN_PROSE_RATIO


def assemble(size: int = DEFAULT_SIZE) -> str:
    """About ``size`` bytes of prose (UTF-8), whole lines only, deterministic."""
    seen: set[str] = set()
    parts: list[str] = []
    total = 0
    for path in _candidates():
        text = _read(path)
        if text is None or not is_prose(text):
            continue
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        for line in text.splitlines():
            line = line.rstrip() + "\n"
            length = len(line.encode("utf-8"))
            if total + length > size:
                return "".join(parts)
            parts.append(line)
            total += length
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assemble ~1 MB of English prose from system docs.")
    parser.add_argument("output", help="where to write the corpus")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="bytes wanted (default 1000000)")
    args = parser.parse_args(argv)
    text = assemble(args.size)
    data = text.encode("utf-8")
    if len(data) < args.size // 2:
        print(f"only {len(data)} bytes of prose found (wanted {args.size})", file=sys.stderr)
    Path(args.output).write_bytes(data)
    print(f"wrote {args.output}: {len(data)} bytes, {len(text.split())} words, sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
