"""Byte-level BPE as GPT-2 and SmolLM2 tokenise: text → pieces → byte symbols → merges by rank → ids.

1. **Pieces.** The text is split before any merge, so that no token spans a word
   boundary: contractions ('s 't 're 've 'm 'll 'd), an optional space plus letters,
   an optional space plus digits, an optional space plus other symbols, runs of
   whitespace (the last space of a run is left to the word after it). SmolLM2's
   files (``tokenizer.ggml.pre = "smollm"``) first cut every digit into a piece of its own.
2. **Bytes to symbols.** Each piece's UTF-8 bytes become printable characters, one per
   byte: the 188 printable bytes stand for themselves, the other 68 (space, control
   bytes …) are moved to code points from 256 up, so a space is written ``Ġ`` (U+0120).
3. **Merges.** The file lists merges in the order they were learned; a lower rank
   means learned earlier. Within a piece, the adjacent pair with the lowest rank is
   merged everywhere it occurs, and again, until no adjacent pair is a merge.
4. **Ids.** Each final symbol is looked up in the vocabulary.

>>> tok = ByteBPE(["a", "b", "Ġ", "ab", "Ġab"], ["a b", "Ġ ab"])
>>> tok.encode("ab ab").ids
[3, 4]
>>> tok.decode([3, 4])
'ab ab'
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import NamedTuple

CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
CONTROL = 3  # tokenizer.ggml.token_type of special tokens (<|im_start|>): matched whole, never merged into
WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


@lru_cache(maxsize=1)
def byte_symbols() -> tuple[str, ...]:
    """The symbol of each byte 0…255: printable bytes stand for themselves, the rest from U+0100 up.

    >>> s = byte_symbols()
    >>> s[ord("A")], s[ord(" ")], s[ord("\\n")], s[0xE9]
    ('A', 'Ġ', 'Ċ', 'é')
    """
    keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAC + 1)) | set(range(0xAE, 0xFF + 1))
    moved = 0
    out = []
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + moved))
            moved += 1
    return tuple(out)


def _kind(ch: str) -> str:
    """``L`` letter, ``N`` number, ``S`` whitespace, ``O`` anything else (Unicode categories)."""
    if ch in WHITESPACE:
        return "S"
    cat = unicodedata.category(ch)[0]
    return cat if cat in ("L", "N") else "O"


def split_pieces(text: str, digits_apart: bool = False) -> list[str]:
    """The GPT-2 pre-tokeniser's pieces; ``digits_apart`` first cuts out each digit (SmolLM2).

    >>> split_pieces("I'm  here, 42x!")
    ['I', "'m", ' ', ' here', ',', ' 42', 'x', '!']
    >>> split_pieces("in 2024", digits_apart=True)
    ['in', ' ', '2', '0', '2', '4']
    """
    if digits_apart:
        out: list[str] = []
        run = ""
        for ch in text:
            if _kind(ch) == "N":
                if run:
                    out += split_pieces(run)
                run = ""
                out.append(ch)
            else:
                run += ch
        return out + (split_pieces(run) if run else [])
    pieces: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        contraction = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
        if contraction:
            pieces.append(contraction)
            i += len(contraction)
            continue
        j = i + 1 if ch == " " and i + 1 < n and _kind(text[i + 1]) != "S" else i
        kind = _kind(text[j])
        if kind != "S":  # ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
            k = j + 1
            while k < n and _kind(text[k]) == kind:
                k += 1
            pieces.append(text[i:k])
            i = k
            continue
        k = i  # `\s+(?!\S)|\s+`: a run of whitespace, leaving its last one to a word after it
        while k < n and _kind(text[k]) == "S":
            k += 1
        if k < n and k - i > 1:
            k -= 1
        pieces.append(text[i:k])
        i = k
    return pieces


class Merge(NamedTuple):
    """One merge applied inside one piece: the pair, its rank in the file, and what it became."""

    piece: int  # which piece (0-based)
    left: str
    right: str
    rank: int
    result: tuple[str, ...]  # the piece's symbols after the merge


class Encoding(NamedTuple):
    pieces: list[str]  # the text split before merging
    symbols: list[tuple[str, ...]]  # each piece as byte symbols, before any merge
    merges: list[Merge]  # every merge applied, in order
    tokens: list[str]  # the final symbols (vocabulary entries)
    ids: list[int]


class ByteBPE:
    """A byte-level BPE tokenizer from a vocabulary (id → token) and ranked merges ("a b").

    ``pre`` is the GGUF ``tokenizer.ggml.pre`` name: ``"smollm"`` cuts digits apart first.
    """

    def __init__(self, tokens: list[str], merges: list[str], token_types: list[int] | None = None, pre: str = "gpt2") -> None:
        self.tokens = list(tokens)
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.ranks: dict[tuple[str, str], int] = {}
        for rank, line in enumerate(merges):
            left, _, right = line.partition(" ")
            self.ranks.setdefault((left, right), rank)
        self.digits_apart = pre == "smollm"
        types = token_types or []
        self.special = sorted((t for t, kind in zip(self.tokens, types, strict=False) if kind == CONTROL and t), key=len, reverse=True)
        self._decode_byte = {s: b for b, s in enumerate(byte_symbols())}

    def _bpe(self, piece_index: int, symbols: tuple[str, ...], log: list[Merge] | None) -> tuple[str, ...]:
        word = list(symbols)
        while len(word) > 1:
            ranked = [(self.ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(word, word[1:], strict=False))]
            found = [r for r, _ in ranked if r is not None]
            if not found:
                break
            best = min(found)
            pair = next((word[i], word[i + 1]) for r, i in ranked if r == best)
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
            if log is not None:
                log.append(Merge(piece_index, pair[0], pair[1], best, tuple(word)))
        return tuple(word)

    def _segments(self, text: str) -> list[tuple[str, bool]]:
        """The text cut at special tokens: (segment, is_special)."""
        out: list[tuple[str, bool]] = []
        i = start = 0
        while i < len(text):
            hit = next((s for s in self.special if text.startswith(s, i)), None) if self.special else None
            if hit:
                if i > start:
                    out.append((text[start:i], False))
                out.append((hit, True))
                i += len(hit)
                start = i
            else:
                i += 1
        if start < len(text):
            out.append((text[start:], False))
        return out

    def encode(self, text: str, log: bool = True) -> Encoding:
        """The text tokenised, with every step kept (``log=False`` keeps no merge list)."""
        symbols_of = byte_symbols()
        pieces: list[str] = []
        start_symbols: list[tuple[str, ...]] = []
        merges: list[Merge] | None = [] if log else None
        tokens: list[str] = []
        for segment, special in self._segments(text):
            parts = [segment] if special else split_pieces(segment, self.digits_apart)
            for part in parts:
                index = len(pieces)
                pieces.append(part)
                if special:
                    start_symbols.append((part,))
                    tokens.append(part)
                    continue
                symbols = tuple(symbols_of[b] for b in part.encode("utf-8"))
                start_symbols.append(symbols)
                tokens.extend(self._bpe(index, symbols, merges))
        unknown = self.ids.get("<unk>", 0)
        return Encoding(pieces, start_symbols, merges or [], tokens, [self.ids.get(t, unknown) for t in tokens])

    def decode(self, ids: list[int]) -> str:
        """The text of token ids: each symbol back to its byte, the bytes read as UTF-8."""
        data = bytearray()
        for i in ids:
            token = self.tokens[i]
            if token in self.special:
                data += token.encode("utf-8")
                continue
            for ch in token:
                b = self._decode_byte.get(ch)
                data += bytes([b]) if b is not None else ch.encode("utf-8")
        return data.decode("utf-8", errors="replace")
