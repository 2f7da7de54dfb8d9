"""Byte-pair encoding (Sennrich et al. 2016), learned exactly as ``subword-nmt learn-bpe`` 0.3.8.

The recipe:

1. split the text into words and count them (``count_words``);
2. write each word as characters, the last one carrying the end-of-word marker:
   ``low -> ('l', 'o', 'w</w>')`` (``initial_symbols``);
3. count every adjacent symbol pair, weighted by the word's count, and merge the
   most frequent pair everywhere; ties go to the greatest pair (compared as a
   tuple of strings, code point by code point); repeat until ``num_merges``
   merges are made or the best pair occurs fewer than ``min_frequency`` times.

Worked example (the paper's corpus: low ×5, lower ×2, newest ×6, widest ×3)::

    pair counts before the first merge (count × occurrences):
      e s    = newest 6 + widest 3 = 9
      s t</w> = newest 6 + widest 3 = 9
      w e    = lower 2 + newest 6  = 8
      l o    = low 5 + lower 2     = 7
    (e, s) and (s, t</w>) tie at 9; ('s', 't</w>') > ('e', 's') because 's' > 'e',
    so the first merge is s + t</w> -> st</w>, then e + st</w> -> est</w> (9).

>>> result = learn_bpe({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 3)
>>> [(m.pair, m.frequency) for m in result.merges]
[(('s', 't</w>'), 9), (('e', 'st</w>'), 9), (('l', 'o'), 7)]
>>> encode(["lowest"], [m.pair for m in result.merges])
{'lowest': ('lo', 'w', 'est</w>')}

Being faithful to the reference means copying its behaviour, quirks included,
so that a learner can check every merge against the tool (``learn-bpe -s N
--min-frequency F`` on plain text: no ``--dict-input``, no ``--total-symbols``,
so N is the number of merges, not a target vocabulary size):

- words are separated by spaces and line breaks only (the tool reads lines with
  Python's ``codecs`` reader, which breaks lines wherever ``str.splitlines``
  does, strips ``'\\r\\n '`` from each line and splits it on ``' '``): a tab or a
  no-break space stays inside its word, and a form feed or U+2028 ending a line
  stays attached to the word before it;
- pair counts are updated incrementally around each merged occurrence, with an
  index from each pair to the words that contain it; the tool's update also
  counts pairs around symbols that were already equal to the new symbol (when
  two merge paths build the same string, e.g. ``a + bc`` and ``ab + c``), and
  merges with a regular expression on the space-joined symbols, which can match
  inside symbols that contain other whitespace; both are reproduced;
- for speed the tool keeps only the pairs counted at least a threshold (a tenth
  of the best count at first) in its working table, moves the others to a full
  table, and reloads the full table when the best working pair falls below the
  threshold; when a pair comes back into the working table after being moved
  out, its count restarts from the change alone. Which pair wins can depend on
  this, so the same tables and thresholds are kept here.

Where this implementation differs is only in speed: the best pair is found with
a heap (with lazy deletion) instead of a scan of the whole table at each merge,
and words without whitespace inside are merged with a list scan rather than a
regular expression.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from itertools import chain, pairwise
from typing import NamedTuple

END = "</w>"
Pair = tuple[str, str]

_TOP = "\U0010ffff"  # sorts after every complemented character: ends a symbol's heap key
_WHITESPACE = re.compile(r"\s")
# Line breaks for str.splitlines (and so for the tool's codecs reader) besides \r and \n.
_ODD_BREAK = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


# --------------------------------------------------------------------------- words


def split_words(text: str) -> list[str]:
    """The words of ``text``, split as ``subword-nmt`` splits its input.

    Lines end wherever ``str.splitlines`` breaks them; each line loses
    ``'\\r'``, ``'\\n'`` and ``' '`` at both ends and is split on ``' '``.

    >>> split_words("low lower\\n newest\\twidest  ")
    ['low', 'lower', 'newest\\twidest']
    """
    words: list[str] = []
    for line in text.splitlines(True):
        words.extend(line.strip("\r\n ").split(" "))
    return [w for w in words if w]


def count_words(text: str) -> dict[str, int]:
    """How often each word occurs, in order of first appearance.

    >>> count_words("low low lower low")
    {'low': 3, 'lower': 1}
    """
    if _ODD_BREAK.search(text) is None:
        # Only '\n' and '\r' end lines, and each line loses them at its ends:
        # the same words as splitting the whole text on ' ', '\r' and '\n'.
        counter = Counter(text.replace("\r", " ").replace("\n", " ").split(" "))
    else:
        words: list[str] = []
        for line in text.splitlines(True):
            words += line.strip("\r\n ").split(" ")
        counter = Counter(words)
    counter.pop("", None)
    return dict(counter)


def initial_symbols(word: str) -> tuple[str, ...]:
    """A word as characters, the end-of-word marker on the last one.

    >>> initial_symbols("low")
    ('l', 'o', 'w</w>')
    """
    if not word:
        raise ValueError("a word needs at least one character")
    return tuple(word[:-1]) + (word[-1] + END,)


# --------------------------------------------------------------------------- results


class Merge(NamedTuple):
    """One learned merge and what it did.

    ``frequency`` is the pair's count when it was chosen. ``vocab_size`` is the
    tokenizer's vocabulary after the merge, as Sennrich et al. count it: the base
    symbols (every character of the corpus, word-final ones with ``</w>``) plus
    the symbols the merges so far have made (one per merge, unless two merges
    make the same string). ``corpus_symbols`` is the number of distinct symbols
    still used in the segmented corpus after the merge (it gains the new symbol
    and loses ``vanished``, the symbols no longer used; base symbols stay in the
    vocabulary even then, since new words may need them). ``words_changed`` is
    how many distinct words it rewrote. ``top_pairs`` (the
    best ``top_k`` pairs before the merge, with counts) and ``changed`` (some of
    the rewritten words as ``(word, occurrences of the pair, symbols after)``)
    are recorded only for the first ``detail`` merges. Occurrences are counted
    as pairs are (``a a a`` holds (a, a) twice), though only one of two
    overlapping occurrences can be merged.
    """

    rank: int
    pair: Pair
    frequency: int
    vocab_size: int
    corpus_symbols: int
    words_changed: int
    vanished: tuple[str, ...] = ()
    top_pairs: tuple[tuple[Pair, int], ...] = ()
    changed: tuple[tuple[str, int, tuple[str, ...]], ...] = ()

    @property
    def symbol(self) -> str:
        return self.pair[0] + self.pair[1]


class BPEResult(NamedTuple):
    """Everything learned: counts, merges in order, the final segmentation.

    ``word_counts`` is ordered by decreasing count (first appearance breaks
    ties); ``initial_vocab_size`` counts the base symbols (the initial symbols of
    the corpus); ``segmentation`` maps each word to its symbols after the last merge.
    ``stop`` says why learning ended: ``"merges"`` (the requested number was
    made), ``"min-frequency"`` (the best pair, ``stop_pair`` counted
    ``stop_frequency`` times, was too rare) or ``"no-pairs"`` (no pair left).
    ``spaced_words`` are the words holding whitespace other than spaces (tabs,
    no-break spaces…), which the tool keeps inside words.
    """

    word_counts: dict[str, int]
    initial_vocab_size: int
    merges: tuple[Merge, ...]
    segmentation: dict[str, tuple[str, ...]]
    stop: str
    min_frequency: int
    stop_pair: Pair | None = None
    stop_frequency: int = 0
    spaced_words: tuple[str, ...] = ()

    @property
    def pairs(self) -> list[Pair]:
        return [m.pair for m in self.merges]


# --------------------------------------------------------------------------- learning


class _Learner:
    """The mutable state of one learning run (see ``learn_bpe``)."""

    def __init__(self, word_counts: Mapping[str, int]) -> None:
        items = sorted(word_counts.items(), key=lambda item: item[1], reverse=True)
        self.words = [w for w, _ in items]
        self.freqs = [c for _, c in items]
        self.symbols: list[tuple[str, ...]] = [tuple(w[:-1]) + (w[-1] + END,) for w in self.words]
        self.has_space = [_WHITESPACE.search(w) is not None for w in self.words]
        # Missing keys read as 0 and are created by += and -=, as in the tool.
        self.stats: defaultdict[Pair, int] = defaultdict(int)  # working pair counts (pruned)
        self.big: dict[Pair, int] = {}  # full counts, as of each pair's last pruning
        self.index: defaultdict[Pair, defaultdict[int, int]] = defaultdict(partial(defaultdict, int))  # pair -> word -> count
        self.sym_count: Counter[str] = Counter()  # occurrences of each symbol across distinct words
        self.heap: list[tuple[int, str, Pair]] = []
        self.threshold = 0.0
        self._keys: dict[str, str] = {}
        # Where each pair occurs (a word index once per occurrence), then the
        # counts: stats[p] = Σ over occurrences of the word's count.
        where: defaultdict[Pair, list[int]] = defaultdict(list)
        for j, symbols in enumerate(self.symbols):
            for pair in pairwise(symbols):
                where[pair].append(j)
        freq_of = self.freqs.__getitem__
        for pair, js in where.items():
            self.stats[pair] = sum(map(freq_of, js))
            self.index[pair] = defaultdict(int, Counter(js))
        self.sym_count.update(chain.from_iterable(self.symbols))
        self.corpus_symbols = len(self.sym_count)
        self.vanished: list[str] = []  # symbols the current merge used up

    # ---- ordering: a heap key that sorts the greatest (count, pair) first

    def _key(self, symbol: str) -> str:
        key = self._keys.get(symbol)
        if key is None:
            if "\x00" in symbol:
                raise ValueError("words may not contain the NUL character")
            key = "".join([chr(0x10FFFF - ord(ch)) for ch in symbol]) + _TOP
            self._keys[symbol] = key
        return key

    def _push(self, pair: Pair, count: int) -> None:
        heapq.heappush(self.heap, (-count, self._key(pair[0]) + self._key(pair[1]), pair))

    def rebuild_heap(self) -> None:
        t = self.threshold
        self.heap = [(-c, self._key(p[0]) + self._key(p[1]), p) for p, c in self.stats.items() if c >= t]
        heapq.heapify(self.heap)

    def _pop_valid(self) -> tuple[Pair, int] | None:
        """Pop the best working pair still at its heaped count (stale entries dropped)."""
        heap, stats, t = self.heap, self.stats, self.threshold
        while heap:
            neg, key, pair = heapq.heappop(heap)
            current = stats.get(pair)
            if current is None:
                continue
            if current == -neg:
                return pair, current
            if current < -neg and current >= t:  # decreased since heaped: file it again
                heapq.heappush(heap, (-current, key, pair))
        return None

    def best(self) -> tuple[Pair, int] | None:
        """The working table's best pair if its count reaches the threshold, else None."""
        found = self._pop_valid()
        if found is not None:
            self._push(*found)
        return found

    def top(self, k: int) -> list[tuple[Pair, int]]:
        """The ``k`` best pairs and their counts (the pair about to be merged first)."""
        found: list[tuple[Pair, int]] = []
        seen: set[Pair] = set()
        while len(found) < k:
            item = self._pop_valid()
            if item is None:
                break
            if item[0] not in seen:
                seen.add(item[0])
                found.append(item)
        for pair, count in found:
            self._push(pair, count)
        if len(found) == k:
            return found
        # Fewer than k pairs reach the threshold, so some of the best may have
        # been pruned: count every pair of the current segmentation afresh.
        counts: defaultdict[Pair, int] = defaultdict(int)
        for symbols, f in zip(self.symbols, self.freqs, strict=True):
            for pair in pairwise(symbols):
                counts[pair] += f
        best = heapq.nlargest(k, counts.items(), key=lambda item: (item[1], item[0]))
        if found and found[0][0] not in dict(best):  # the tool's pick always comes first
            best = [found[0], *best[: k - 1]]
        return best

    # ---- the tool's two-table bookkeeping

    def prune(self, threshold: float) -> None:
        stats, big = self.stats, self.big
        low = [(p, c) for p, c in stats.items() if c < threshold]
        for pair, count in low:
            del stats[pair]
            if count < 0:
                big[pair] = big.get(pair, 0) + count
            else:
                big[pair] = count

    def reload(self, i: int) -> tuple[Pair, int] | None:
        """Back to the full table: the best pair may have been pruned."""
        self.prune(self.threshold)
        self.stats = defaultdict(int, self.big)
        if not self.stats:
            return None
        top = max(self.stats.values())
        pair = max(p for p, c in self.stats.items() if c == top)
        self.threshold = top * i / (i + 10000.0)
        self.prune(self.threshold)
        self.rebuild_heap()
        return pair, top

    # ---- one merge

    def merge(self, pair: Pair, j_limit: int) -> tuple[int, list[tuple[int, tuple[str, ...]]]]:
        """Merge ``pair`` in every indexed word; returns (words changed, some of them).

        For each word the tool's index lists, the pairs lost around each merged
        occurrence are subtracted (its word count each time) and the pairs
        around each symbol equal to the new one are added; the index from pair
        to words is updated by the same steps.
        """
        first, second = pair
        joined = first + second
        same = first == second
        stats, index, t = self.stats, self.index, self.threshold
        symbols, freqs, has_space = self.symbols, self.freqs, self.has_space
        occurrences = index[pair]
        stats[pair] = 0
        index[pair] = defaultdict(int)
        pattern = None
        merged_total = 0
        changed = 0
        some: list[tuple[int, tuple[str, ...]]] = []
        room = j_limit
        raised: set[Pair] = set()
        self.vanished = []
        for j, n in occurrences.items():
            if n < 1:
                continue
            old = symbols[j]
            f = freqs[j]
            last = len(old) - 1
            starts: list[int] = []  # where each merged occurrence starts in the old word
            i = 0
            remaining = old.count(first)  # (counting first avoids index() raising at the end)
            while remaining:
                i = old.index(first, i)
                remaining -= 1
                if i < last and old[i + 1] == second:
                    # "X first second Y" loses (X, first) and (second, Y); in
                    # "first second first second" the middle pair is lost once.
                    if i:
                        p = (old[i - 1], first)
                        stats[p] -= f
                        index[p][j] -= 1
                    if i < last - 1 and not (old[i + 2] == first and i < last - 2 and old[i + 3] == second):
                        p = (second, old[i + 2])
                        stats[p] -= f
                        index[p][j] -= 1
                    starts.append(i)
                    i += 2
                    if same:  # the second symbol was another occurrence of the first
                        remaining -= 1
                else:
                    i += 1
            if has_space[j] and any(len(s) > 1 and _WHITESPACE.search(s) for s in old):
                # The tool merges with a regular expression on the space-joined
                # symbols, which can also match inside symbols holding whitespace
                # (with whitespace only in one-character symbols, it cannot).
                if pattern is None:
                    pattern = re.compile(r"(?<!\S)" + re.escape(first + " " + second) + r"(?!\S)")
                new = tuple(pattern.sub(lambda _m: joined, " ".join(old)).split(" "))
                if new != old:
                    before, after = Counter(old), Counter(new)
                    for s in before.keys() | after.keys():
                        self._bump(s, after[s] - before[s])
                positions = [k for k, s in enumerate(new) if s == joined]
            elif not starts:
                new = old
                if joined in old:
                    positions = [k for k, s in enumerate(new) if s == joined]
                else:
                    continue  # nothing merged, nothing gained
            else:
                if len(starts) == 1:
                    k = starts[0]
                    new = old[:k] + (joined,) + old[k + 2 :]
                    positions = starts
                else:
                    out: list[str] = []
                    positions = []  # where the merged symbols land in the new word
                    at = 0
                    for k in starts:
                        out.extend(old[at:k])
                        positions.append(len(out))
                        out.append(joined)
                        at = k + 2
                    out.extend(old[at:])
                    new = tuple(out)
                merged_total += len(starts)
                if joined in old:  # symbols already equal to the new one count too
                    positions = [k for k, s in enumerate(new) if s == joined]
            symbols[j] = new
            if new != old:
                changed += 1
                if room:
                    some.append((j, old))
                    room -= 1
            # "X new Y" gains (X, new) and (new, Y); in "new new" the pair is gained once.
            last = len(new) - 1
            for k in positions:
                if k:
                    p = (new[k - 1], joined)
                    stats[p] += f
                    raised.add(p)
                    index[p][j] += 1
                if k < last and new[k + 1] != joined:
                    p = (joined, new[k + 1])
                    stats[p] += f
                    raised.add(p)
                    index[p][j] += 1
        stats[pair] = 0
        for p in raised:
            value = stats.get(p)
            if value is not None and value >= t:
                self._push(p, value)
        if merged_total:
            self._bump(first, -merged_total)
            self._bump(second, -merged_total)
            self._bump(joined, merged_total)
        return changed, some

    def _bump(self, symbol: str, delta: int) -> None:
        if not delta:
            return
        before = self.sym_count[symbol]
        after = before + delta
        self.sym_count[symbol] = after
        if before > 0 and after <= 0:
            self.corpus_symbols -= 1
            self.vanished.append(symbol)
        elif before <= 0 and after > 0:
            self.corpus_symbols += 1


def _merge_scan(old: tuple[str, ...], first: str, second: str, joined: str) -> tuple[str, ...]:
    """``old`` with each (first, second), taken left to right without overlap, joined.

    >>> _merge_scan(('a', 'a', 'a</w>'), 'a', 'a', 'aa')
    ('aa', 'a</w>')
    """
    out: list[str] = []
    last = len(old) - 1
    i = 0
    while True:
        try:
            k = old.index(first, i)
        except ValueError:
            break
        if k < last and old[k + 1] == second:
            out.extend(old[i:k])
            out.append(joined)
            i = k + 2
        else:
            out.extend(old[i : k + 1])
            i = k + 1
    if not out:
        return old
    out.extend(old[i:])
    return tuple(out)


def learn_bpe(
    word_counts: Mapping[str, int],
    num_merges: int,
    min_frequency: int = 2,
    *,
    top_k: int = 5,
    detail: int | None = None,
    changed_limit: int = 20,
) -> BPEResult:
    """Learn up to ``num_merges`` merges from word counts, as ``subword-nmt learn-bpe -s N``.

    ``min_frequency`` (at least 1) stops learning when the best pair occurs
    fewer times. For the first ``detail`` merges (all when None) the result
    keeps the ``top_k`` best pairs before the merge and up to
    ``changed_limit`` of the words it rewrote.

    >>> r = learn_bpe({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 10)
    >>> [m.symbol for m in r.merges][:4], r.merges[0].top_pairs[:3]
    (['st</w>', 'est</w>', 'lo', 'west</w>'], ((('s', 't</w>'), 9), (('e', 's'), 9), (('w', 'e'), 8)))

    The vocabulary grows by one symbol per merge, 11 base symbols + 10 = 21, while
    the symbols still used in the corpus fall from 11 to 7:

    >>> r.initial_vocab_size, r.merges[-1].vocab_size, r.merges[-1].corpus_symbols
    (11, 21, 7)
    """
    if num_merges < 0:
        raise ValueError("num_merges must be at least 0")
    if min_frequency < 1:
        raise ValueError("min_frequency must be at least 1")
    for word, count in word_counts.items():
        if not word or count < 1:
            raise ValueError(f"bad word count {word!r}: {count!r}")
    learner = _Learner(word_counts)
    counts = dict(zip(learner.words, learner.freqs, strict=True))
    initial_vocab = learner.corpus_symbols
    vocabulary = set(learner.sym_count)  # the base symbols, then every merged symbol
    merges: list[Merge] = []
    stop = "merges"
    stop_pair: Pair | None = None
    stop_frequency = 0
    detail = num_merges if detail is None else detail
    if not learner.stats:
        stop = "no-pairs"
        num_merges = 0
    else:
        learner.big = dict(learner.stats)
        learner.threshold = max(learner.stats.values()) / 10
        learner.rebuild_heap()
    for i in range(num_merges):
        found = learner.best()
        if found is None:
            # Nothing in the working table reaches the threshold: reload the full table.
            found = learner.reload(i)
            if found is None:
                stop = "no-pairs"
                break
        pair, frequency = found
        if frequency < min_frequency:
            if frequency > 0:
                stop, stop_pair, stop_frequency = "min-frequency", pair, frequency
            else:
                stop = "no-pairs"
            break
        top = tuple(learner.top(top_k)) if i < detail and top_k > 0 else ()
        changed, some = learner.merge(pair, changed_limit if i < detail else 0)
        vocabulary.add(pair[0] + pair[1])
        if i % 100 == 0:
            learner.prune(learner.threshold)
        merges.append(
            Merge(
                rank=i + 1,
                pair=pair,
                frequency=frequency,
                vocab_size=len(vocabulary),
                corpus_symbols=learner.corpus_symbols,
                words_changed=changed,
                vanished=tuple(learner.vanished),
                top_pairs=top,
                changed=tuple(
                    (learner.words[j], sum(1 for p in pairwise(old) if p == pair), learner.symbols[j]) for j, old in some
                ),
            )
        )
    segmentation = dict(zip(learner.words, learner.symbols, strict=True))
    return BPEResult(
        word_counts=counts,
        initial_vocab_size=initial_vocab,
        merges=tuple(merges),
        segmentation=segmentation,
        stop=stop,
        min_frequency=min_frequency,
        stop_pair=stop_pair,
        stop_frequency=stop_frequency,
        spaced_words=tuple(w for w, spaced in zip(learner.words, learner.has_space, strict=True) if spaced),
    )


# --------------------------------------------------------------------------- applying


def encode_steps(word: str, ranks: Mapping[Pair, int]) -> list[tuple[int, Pair, tuple[str, ...]]]:
    """How a word is segmented: ``(rank, pair, symbols after)`` for each merge applied.

    Repeatedly, among the word's adjacent pairs, the one learned earliest (lowest
    rank, counted from 0) is merged at every occurrence (left to right, without
    overlap), exactly as ``subword-nmt apply-bpe`` does.

    >>> encode_steps("lowest", {("l", "o"): 0, ("e", "s"): 1, ("es", "t</w>"): 2})
    [(0, ('l', 'o'), ('lo', 'w', 'e', 's', 't</w>')), (1, ('e', 's'), ('lo', 'w', 'es', 't</w>')), (2, ('es', 't</w>'), ('lo', 'w', 'est</w>'))]
    """
    symbols = initial_symbols(word)
    steps: list[tuple[int, Pair, tuple[str, ...]]] = []
    while len(symbols) > 1:
        best = None
        for pair in pairwise(symbols):
            rank = ranks.get(pair)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, pair)
        if best is None:
            break
        rank, (first, second) = best
        symbols = _merge_scan(symbols, first, second, first + second)
        steps.append((rank, (first, second), symbols))
    return steps


def encode_word(word: str, ranks: Mapping[Pair, int]) -> tuple[str, ...]:
    """Segment one word with merge ranks (see ``encode_steps``).

    Symbols keep the ``</w>`` marker; apply-bpe writes the same segmentation as
    ``lo@@ w@@ est`` (``@@`` on every symbol but the last, ``</w>`` dropped).

    >>> encode_word("lowest", {("l", "o"): 0, ("e", "s"): 1, ("es", "t</w>"): 2})
    ('lo', 'w', 'est</w>')
    """
    steps = encode_steps(word, ranks)
    return steps[-1][2] if steps else initial_symbols(word)


def merge_ranks(merges: Sequence[Pair]) -> dict[Pair, int]:
    """Each pair's rank: its position in the merge list (the first one wins for repeats)."""
    ranks: dict[Pair, int] = {}
    for rank, pair in enumerate(merges):
        ranks.setdefault((pair[0], pair[1]), rank)
    return ranks


def encode(words: Iterable[str], merges: Sequence[Pair]) -> dict[str, tuple[str, ...]]:
    """Segment each distinct word with the learned merges (earliest learned first).

    Agrees with ``subword-nmt apply-bpe`` (codes version 0.2, no glossaries,
    vocabulary filter or dropout) once written in its form (``apply_bpe_form``),
    for words split as for learning (``split_words``).

    >>> encode(["low", "lower"], [("l", "o"), ("lo", "w</w>")])
    {'low': ('low</w>',), 'lower': ('lo', 'w', 'e', 'r</w>')}
    """
    ranks = merge_ranks(merges)
    out: dict[str, tuple[str, ...]] = {}
    for word in words:
        if word not in out:
            out[word] = encode_word(word, ranks)
    return out


def apply_bpe_form(tokens: Sequence[str], separator: str = "@@") -> list[str]:
    """The same segmentation written as ``subword-nmt apply-bpe`` writes it.

    >>> apply_bpe_form(('lo', 'w', 'est</w>'))
    ['lo@@', 'w@@', 'est']
    """
    last = tokens[-1]
    if last.endswith(END):
        last = last[: -len(END)]
    return [t + separator for t in tokens[:-1]] + [last]
