"""The bpe lesson: learn byte-pair-encoding merges as subword-nmt does, then segment words.

Default run (the paper's corpus: low ×5, lower ×2, newest ×6, widest ×3, 10 merges):
(e, s) and (s, t</w>) both occur 9 times; the tie goes to the greater pair, so the
merges are s+t</w>, e+st</w>, l+o, w+est</w>, n+e, ne+west</w>, lo+w</w>, w+i,
wi+d, wid+est</w>. The vocabulary (Sennrich et al.: the 11 base symbols plus one
per merge) grows 11 → 12 … 21; the distinct symbols left in the corpus go
11 → 10, 10, 9, 10, 10, 9, 9, 9, 8, 7. The default --encode adds two words the
corpus does not hold: lowest → lo west</w>, wider → wid e r</w>.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from nntutor.catalog.inputs import read_text_file
from nntutor.core import bpe
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough

MAX_MERGES = 100_000
MAX_ENCODE_WORDS = 1_000
MAX_WORD_CHARS = 200  # a merge rescans each word it touches: a long "word" costs its length squared
MAX_CORPUS_SYMBOLS = 1_500_000  # characters of the distinct words: bounds the learner's time and memory
WORD_ROWS = 24  # rows of the word-frequency and initial-symbol tables (the output has every word)
CHANGED_ROWS = 6  # words listed per merge shown in full
ENCODE_DEFAULT = 10  # corpus words segmented when --encode is not given


class Inputs(NamedTuple):
    """Checked inputs: the corpus already counted, where it came from, and the learning settings."""

    word_counts: dict[str, int]  # every word of the corpus with its count, in order of first appearance
    text: str | None  # the --text corpus as typed; None when it was read from --file
    file: str | None  # the --file path; None for --text
    file_bytes: int | None  # size of the --file in bytes (None for --text)
    file_sha256: str | None  # SHA-256 of the --file's bytes (None for --text)
    merges: int  # how many merges to learn at most (-s N)
    min_frequency: int  # stop when the best pair occurs fewer times than this
    top: int  # pair counts listed before each merge shown in full
    show: int  # merges shown in full
    encode: tuple[str, ...] | None  # distinct words to segment; None: the corpus's ENCODE_DEFAULT most frequent


def _corpus(args: Args) -> tuple[str, str, tuple[str | None, str | None, int | None, str | None]]:
    """The text, the flag it came from, and the Inputs fields (text, file, file_bytes, file_sha256)."""
    path = args["file"]
    if path is not None:
        if "text" in args.given:
            raise InputError("--file", "give either --text or --file, not both")
        text = read_text_file("--file", path)
        data = text.encode("utf-8")
        if not text.strip():
            raise InputError("--file", f"{path!r} holds no words (it is empty or only whitespace)")
        return text, "--file", (None, path, len(data), hashlib.sha256(data).hexdigest())
    text = args["text"]
    if not text.strip():
        raise InputError("--text", "is empty or only whitespace (give some words, e.g. --text \"low lower newest\")")
    return text, "--text", (text, None, None, None)


def _check_work(flag: str, word_counts: dict[str, int]) -> None:
    """Refuse up front a corpus the learner would take minutes or gigabytes over.

    Learning works on distinct words: every one is kept as a tuple of symbols with
    its pairs indexed, and a merge rescans each word holding the pair. Each merge
    shortens a word it touches, so the whole run rescans at most the sum of the
    squared word lengths: bounded by the two limits (measured: 1.5 million symbols
    of random words, 1,000 merges, about 10 s and 250 MB).
    """
    longest = max(word_counts, key=len)
    if len(longest) > MAX_WORD_CHARS:
        raise InputError(
            flag,
            f"holds a word of {len(longest):,} characters ({_vis(longest[:20])}…); at most {MAX_WORD_CHARS} "
            "(words are split at spaces and line breaks, and each merge rescans every word it changes)",
        )
    symbols = sum(len(word) for word in word_counts)
    if symbols > MAX_CORPUS_SYMBOLS:
        raise InputError(
            flag,
            f"its {len(word_counts):,} distinct words hold {symbols:,} characters; at most {MAX_CORPUS_SYMBOLS:,} "
            f"(about {human_bytes(symbols * 170)} and {symbols * 7e-6:.0f} s or more to learn from): use a smaller corpus",
        )


def check(args: Args) -> Inputs:
    """The corpus read (--text or --file, not both) and counted; --merges and --encode bounded.

    >>> from nntutor.catalog.run import parse_args
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> inputs = check(parse_args(load_lesson("bpe"), {"text": "low low lower", "encode": "lowest low lowest"}))
    >>> inputs.word_counts, inputs.encode
    ({'low': 2, 'lower': 1}, ('lowest', 'low'))
    """
    text, source_flag, (typed, path, file_bytes, file_sha256) = _corpus(args)
    num_merges = int(args["merges"])
    if num_merges > MAX_MERGES:
        raise InputError(
            "--merges",
            f"{num_merges:,} is more than this lesson allows (at most {MAX_MERGES:,}); learning stops by itself "
            "once no pair occurs --min-frequency times, so a large value already means 'until the pairs run out'",
        )
    counts_in_order = bpe.count_words(text)
    if not counts_in_order:
        raise InputError(source_flag, "holds no words (only spaces and line breaks)")
    _check_work(source_flag, counts_in_order)
    # The lesson file's --encode default goes with the built-in corpus (its words and two it
    # does not hold); with --text or --file alone, that text's most frequent words are segmented.
    own_corpus = "text" in args.given or "file" in args.given
    encode_text = args["encode"] if "encode" in args.given or not own_corpus else None
    encode_words: tuple[str, ...] | None = None
    if encode_text is not None:
        encode_words = tuple(dict.fromkeys(bpe.split_words(encode_text)))
        if not encode_words:
            raise InputError("--encode", "holds no words (give words separated by spaces, e.g. --encode \"lowest newer\")")
        if len(encode_words) > MAX_ENCODE_WORDS:
            raise InputError(
                "--encode", f"{len(encode_words):,} distinct words is too many (at most {MAX_ENCODE_WORDS:,})"
            )
    return Inputs(
        word_counts=counts_in_order,
        text=typed,
        file=path,
        file_bytes=file_bytes,
        file_sha256=file_sha256,
        merges=num_merges,
        min_frequency=int(args["min-frequency"]),
        top=int(args["top"]),
        show=int(args["show"]),
        encode=encode_words,
    )


def _vis(text: str) -> str:
    """Text as shown: whitespace and invisible characters escaped (a tab is \\t)."""
    if text.isprintable() and not any(ch.isspace() for ch in text):
        return text
    return "".join(ch if ch.isprintable() and not ch.isspace() else repr(ch)[1:-1] for ch in text)


def _symbols(symbols: tuple[str, ...]) -> str:
    """Symbols separated by spaces (no symbol holds a space)."""
    return " ".join(_vis(s) for s in symbols)


def _why_tie(chosen: tuple[str, str], other: tuple[str, str]) -> str:
    """Why ``chosen`` beats ``other`` at the same count (tuple order, code points)."""
    side, a, b = ("left", chosen[0], other[0]) if chosen[0] != other[0] else ("right", chosen[1], other[1])
    for x, y in zip(a, b, strict=False):
        if x != y:
            return (
                f"the {side} symbols differ first at {x!r} (U+{ord(x):04X}) vs {y!r} (U+{ord(y):04X}), "
                f"and {x!r} is greater"
            )
    return f"the {side} symbol {a!r} extends {b!r}, and a longer string is greater"


def _merge_step(ctx: Context, merge: bpe.Merge, before: bpe.Merge | None, base: int, counts: dict[str, int], top: int) -> Step:
    a, b = (_vis(x) for x in merge.pair)
    new = _vis(merge.symbol)
    worked: list[str] = []
    occurrences = [(w, n) for w, n, _ in merge.changed]
    total = sum(counts[w] * n for w, n in occurrences)
    if merge.changed and merge.words_changed == len(merge.changed) and total == merge.frequency:
        terms = " + ".join(f"{counts[w]}×{n} ({_vis(w)})" for w, n in occurrences)
        worked.append(f"count({a}, {b}) = {terms} = {merge.frequency}")
    else:
        worked.append(
            f"count({a}, {b}) = {merge.frequency}: the sum over the {merge.words_changed:,} words containing the "
            "pair of (word count × occurrences in the word)"
        )
    ties = [p for p, c in merge.top_pairs if c == merge.frequency and p != merge.pair]
    if ties:
        worked.append(
            f"tie at {merge.frequency}: ({a}, {b}) wins over ({_vis(ties[0][0])}, {_vis(ties[0][1])}) because "
            + _why_tie(merge.pair, ties[0])
        )
    in_corpus = before.corpus_symbols if before is not None else base
    vocab = before.vocab_size if before is not None else base
    fresh = merge.corpus_symbols - in_corpus + len(merge.vanished)
    gained = f" + 1 ({new} is new)" if fresh == 1 else f" + 0 ({new} was already used)"
    lost = f" − {len(merge.vanished)} ({', '.join(map(_vis, merge.vanished))} no longer used)" if merge.vanished else ""
    worked.append(f"symbols left in the corpus = {in_corpus}{gained}{lost} = {merge.corpus_symbols}")
    added = f" + 1 ({new})" if merge.vocab_size > vocab else f" + 0 ({new} is already in it)"
    worked.append(
        f"vocabulary = {vocab}{added} = {merge.vocab_size}"
        + (" (used-up symbols stay: new words may need them)" if merge.vanished else "")
    )
    values = [
        Value(
            "top_pairs",
            Table(("pair", "count"), tuple((_symbols(p), c) for p, c in merge.top_pairs)),
            label=f"top {top} pair counts before merge {merge.rank}",
        ),
        Value("pair", f"{a} + {b} → {new}", label="merged pair"),
        Value("frequency", merge.frequency),
        Value(
            "changed",
            Table(
                ("word", "count", "pair occurrences", "symbols after"),
                tuple((_vis(w), counts[w], n, _symbols(s)) for w, n, s in merge.changed[:CHANGED_ROWS]),
            ),
            label=f"words changed ({merge.words_changed:,})",
        ),
        Value("vocab_size", merge.vocab_size, label="vocabulary (base symbols + merges)"),
        Value("corpus_symbols", merge.corpus_symbols, label="distinct symbols left in the corpus"),
    ]
    return Step(
        id=f"merge-{merge.rank}",
        title=f"Merge {merge.rank}: {a} + {b} → {new}",
        formula=r"(a, b)^{*} = \arg\max_{(a,b)} \sum_{w} \mathrm{count}(w)\,\mathrm{occ}_{w}(a\,b)",
        formula_text="best pair = argmax over (a, b) of Σ_w count(w) × occurrences of (a b) in w",
        values=values,
        worked=worked,
        why=(
            "The most frequent pair becomes one new symbol everywhere it occurs; only the pairs next to "
            "each merged occurrence change their counts, so nothing else needs recounting."
        ),
    )


def _vocabulary_worked(result: bpe.BPEResult) -> list[str]:
    """Both counts after the last merge, as arithmetic: 11 + 10 = 21 in the vocabulary, 7 left in the corpus."""
    if not result.merges:
        return [f"vocabulary = {result.initial_vocab_size} base symbols (no merge learned)"]
    last, base, count = result.merges[-1], result.initial_vocab_size, len(result.merges)
    repeats = base + count - last.vocab_size
    merges = f"{count} {'merge' if count == 1 else 'merges'}"
    line = f"vocabulary = {base} base symbols + {merges} = {last.vocab_size}"
    if repeats:
        line = (
            f"vocabulary = {base} base symbols + {merges}, {repeats} of which made a symbol already in it, "
            f"= {last.vocab_size}"
        )
    return [line, f"distinct symbols left in the corpus after merge {last.rank}: {last.corpus_symbols}"]


def _record(inputs: Inputs, encode_words: list[str]) -> dict[str, Any]:
    """What trace.inputs records: the corpus source, the settings, the words segmented."""
    if inputs.file is not None:
        record: dict[str, Any] = {
            "text": None, "file": inputs.file, "file_bytes": inputs.file_bytes, "file_sha256": inputs.file_sha256,
        }
    else:
        record = {"text": inputs.text, "file": None}
    record.update(
        {"merges": inputs.merges, "min-frequency": inputs.min_frequency, "top": inputs.top, "show": inputs.show,
         "encode": encode_words}
    )
    return record


def build(ctx: Context, inputs: Inputs) -> Trace:
    num_merges, min_frequency, top, show = inputs.merges, inputs.min_frequency, inputs.top, inputs.show
    result = bpe.learn_bpe(
        inputs.word_counts, num_merges, min_frequency, top_k=top, detail=show, changed_limit=CHANGED_ROWS
    )
    counts = result.word_counts
    encode_words = list(inputs.encode) if inputs.encode is not None else list(counts)[:ENCODE_DEFAULT]

    trace = ctx.new_trace(_record(inputs, encode_words))
    n_tokens = sum(counts.values())
    words = list(counts)
    shown_words = words[:WORD_ROWS]
    more = f" (the {len(shown_words)} most frequent; the word_counts output has all)" if len(words) > WORD_ROWS else ""
    odd = result.spaced_words
    word_step = trace.add(
        Step(
            id="words",
            title="Split the text into words and count them",
            formula=r"\mathrm{count}(w) = \#\{\text{occurrences of } w\}",
            formula_text="count(w) = number of times w occurs",
            values=[
                Value("word_counts", Table(("word", "count"), tuple((_vis(w), counts[w]) for w in shown_words)),
                      label=f"word counts{more}"),
                Value("tokens", n_tokens, label="words in the text"),
                Value("distinct", len(words), label="distinct words"),
            ],
            worked=[
                f"{len(words)} distinct words, {n_tokens} in all: "
                + " + ".join(str(counts[w]) for w in words[:8])
                + (" + …" if len(words) > 8 else "")
                + f" = {n_tokens}"
            ],
            why=(
                "BPE works on word types: each distinct word is processed once, its count weighting every "
                "pair inside it (words split on spaces and line breaks, as in subword-nmt)."
            ),
        )
    )
    if odd:
        word_step.warnings.append(
            f"{len(odd)} word(s) contain a tab or another non-space whitespace character, e.g. {odd[0]!r}: "
            "like subword-nmt, only spaces and line breaks separate words"
        )

    first = words[0]
    initial = {w: bpe.initial_symbols(w) for w in shown_words}
    symbols0 = sorted({s for w in words for s in w[:-1]} | {w[-1] + bpe.END for w in words})
    trace.add(
        Step(
            id="symbols",
            title="Write each word as characters, marking the end of the word",
            formula=r"w = c_1 c_2 \dots c_n \;\mapsto\; (c_1, c_2, \dots, c_n\texttt{</w>})",
            formula_text="w = c₁c₂…cₙ  ↦  (c₁, c₂, …, cₙ</w>)",
            values=[
                Value("initial", Table(("word", "count", "symbols"),
                                       tuple((_vis(w), counts[w], _symbols(initial[w])) for w in shown_words)),
                      label=f"initial symbols{more}"),
                Value("initial_vocab", _symbols(tuple(symbols0)), label=f"base symbols ({len(symbols0)})"),
                Value("initial_vocab_size", result.initial_vocab_size, label="vocabulary before any merge"),
            ],
            worked=[f"{_vis(first)} → {_symbols(bpe.initial_symbols(first))}"],
            why=(
                "The marker </w> rides on the last character, so a word-final 'w</w>' is a different symbol "
                "from the 'w' inside a word: merges can learn endings such as 'est</w>'."
            ),
        )
    )

    before: bpe.Merge | None = None
    for merge in result.merges[:show]:
        step = trace.add(_merge_step(ctx, merge, before, result.initial_vocab_size, counts, top))
        step.detail = merge.rank > 1  # merge 1 shows the rule; the merge list has the others in one table
        before = merge

    later = result.merges[show:]
    if later:
        trace.add(
            Step(
                id="later-merges",
                title=f"Merges {later[0].rank}–{later[-1].rank}, in brief",
                formula_text="the same rule, merge after merge",
                values=[
                    Value(
                        "later",
                        Table(
                            ("#", "pair", "new symbol", "count", "words changed", "vocabulary", "left in corpus"),
                            tuple((m.rank, _symbols(m.pair), m.symbol, m.frequency, m.words_changed, m.vocab_size,
                                   m.corpus_symbols) for m in later),
                        ),
                        label=f"merges {later[0].rank}–{later[-1].rank}",
                    )
                ],
                worked=[
                    f"merge {m.rank}: count({_vis(m.pair[0])}, {_vis(m.pair[1])}) = {m.frequency} → {_vis(m.symbol)}"
                    for m in (later[0], later[-1])[: len(later)]
                ],
                why="Counts fall as merges go on: early merges capture the commonest pieces, later ones rarer ones.",
            )
        )

    stop_note = {
        "merges": f"stopped after the {num_merges} merges asked for (--merges)",
        "no-pairs": "stopped early: no adjacent pair is left (every word is a single symbol)",
        "min-frequency": (
            f"stopped early: the best pair left, {_symbols(result.stop_pair or ('', ''))}, occurs "
            f"{result.stop_frequency} {'time' if result.stop_frequency == 1 else 'times'}, "
            f"fewer than --min-frequency {min_frequency}"
        ),
    }[result.stop]
    merge_step = trace.add(
        Step(
            id="merges",
            title="The merge list (in the order learned)",
            formula_text="merge i: left right  (new symbol = left + right)",
            values=[
                Value("merges", Table(("#", "codes line", "new symbol", "count", "vocabulary", "left in corpus"),
                                      tuple((m.rank, _symbols(m.pair), _vis(m.symbol), m.frequency, m.vocab_size,
                                             m.corpus_symbols) for m in result.merges)),
                      label=f"{len(result.merges)} {'merge' if len(result.merges) == 1 else 'merges'} (codes lines as "
                      "subword-nmt writes them); vocabulary = base symbols + merges"),
            ],
            worked=[*([f"the same rule as merge 1 for the other {len(result.merges) - 1} merges: each row is "
                       "the most frequent pair left at that point"] if len(result.merges) > 1 else []),
                    f"{len(result.merges)} {'merge' if len(result.merges) == 1 else 'merges'}; {stop_note}",
                    *_vocabulary_worked(result)],
            why=(
                "This list is the whole tokenizer: segmenting any text replays it. The vocabulary (as Sennrich "
                "et al. count it: base symbols + merges) only grows; the distinct symbols left in the corpus "
                "can shrink, as a merge may use up the two symbols it joined."
            ),
        )
    )
    if result.stop != "merges":
        merge_step.warnings.append(stop_note[0].upper() + stop_note[1:])

    ranks = bpe.merge_ranks(result.pairs)
    encoded: dict[str, list[str]] = {}
    rows = []
    chains: dict[str, list[tuple[int, tuple[str, str], tuple[str, ...]]]] = {}
    for word in encode_words:
        steps = bpe.encode_steps(word, ranks)
        tokens = steps[-1][2] if steps else bpe.initial_symbols(word)
        encoded[word] = list(tokens)
        chains[word] = steps
        seen = "yes" if word in counts else "no"
        rows.append((_vis(word), seen, _symbols(tokens), _symbols(bpe.apply_bpe_form(tokens)), len(tokens)))
    unseen = [w for w in encode_words if w not in counts]
    # Work out an unseen word if there is one with a merge to replay: that is the point of the step.
    shown = next((w for w in unseen + encode_words if chains[w]), None)
    if shown is not None:
        steps = chains[shown]
        chain = [_symbols(bpe.initial_symbols(shown))]
        chain += [f"(merge {rank + 1}: {_vis(p[0])} + {_vis(p[1])}) {_symbols(s)}" for rank, p, s in steps[:12]]
        if len(steps) > 12:
            chain.append(f"… {len(steps) - 12} more merges … {_symbols(encoded[shown])}")
        worked = [f"{_vis(shown)}: " + " → ".join(chain)]
    else:
        worked = [f"{_vis(encode_words[0])}: no learned merge applies, so it stays {rows[0][2]}"]
    if unseen:
        pieces = "; ".join(f"{_vis(w)} → {_symbols(tuple(encoded[w]))}" for w in unseen[:3])
        names = [_vis(w) for w in unseen[:3]]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
        new_words = (
            f"{listed} {'is' if len(unseen) == 1 else 'are'} not in the training "
            f"text, yet cut into pieces the merges know ({pieces}). "
        )
    else:
        new_words = "Every word here is from the training text; a word it does not hold (pass one with --encode) is cut the same way. "
    trace.add(
        Step(
            id="encode",
            title="Segment words with the learned merges",
            formula_text="repeat: merge the adjacent pair learned earliest, at every occurrence",
            values=[
                Value("encoded", Table(("word", "in corpus", "tokens", "as apply-bpe writes it",
                                        "number of tokens"), tuple(rows)),
                      label="segmentations"),
            ],
            worked=worked,
            why=(
                new_words + "Frequent words become one token, rare ones several; only characters never "
                "seen in training are out of vocabulary."
            ),
        )
    )

    trace.result = answer(
        trace,
        Value("merges", [_symbols(m.pair) for m in result.merges] or ["(none)"],
              label=f"{len(result.merges)} {'merge' if len(result.merges) == 1 else 'merges'} learned, in order"),
        Value("encoded", [f"{row[0]} → {row[2]}" for row in rows], label="segmentations"),
    )
    trace.outputs = {
        "word_counts": counts,
        "merges": [[a, b] for a, b in result.pairs],
        "vocab_size": [m.vocab_size for m in result.merges],
        "corpus_symbols": [m.corpus_symbols for m in result.merges],
        "encoded": encoded,
    }
    return trace


def script(trace: Trace) -> str:
    """BPE learning and segmentation in plain Python (``--format py``): every pair recounted at each merge."""
    from nntutor.render.python_script import assignment
    from nntutor.walkthroughs._script import heading

    if trace.inputs.get("text") is None:  # a corpus file: the script starts from the counts the lesson made
        words = [
            "# The corpus came from a file; its word counts, as the lesson counted them:",
            assignment("word_counts", trace.outputs["word_counts"]),
        ]
    else:
        words = [
            "words = text.replace('\\r', ' ').replace('\\n', ' ').split(' ')",
            "counts = Counter(word for word in words if word)",
            "# most frequent first",
            "word_counts = dict(sorted(counts.items(), key=lambda item: -item[1]))",
        ]
    return "\n".join([
        "from collections import Counter",
        "",
        "END = '</w>'",
        "merges_requested = merges  # the name merges is kept for the merge list itself",
        "",
        heading(trace, "words"),
        *words,
        "",
        heading(trace, "symbols"),
        "",
        "",
        "def characters(word):",
        "    return tuple(word[:-1]) + (word[-1] + END,)",
        "",
        "",
        "segmented = {word: characters(word) for word in word_counts}",
        "# the base symbols",
        "vocabulary = {symbol for symbols in segmented.values() for symbol in symbols}",
        "",
        "",
        "def merge(symbols, pair):",
        "    \"\"\"symbols with each (a, b) of pair joined, left to right, no overlap.\"\"\"",
        "    out, i = [], 0",
        "    while i < len(symbols):",
        "        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:",
        "            out.append(symbols[i] + symbols[i + 1])",
        "            i += 2",
        "        else:",
        "            out.append(symbols[i])",
        "            i += 1",
        "    return tuple(out)",
        "",
        "",
        "# Steps 3 on. Each merge: the pair seen most often (each word counted as often",
        "# as it occurs; a tie goes to the pair that sorts last, as in subword-nmt),",
        "# joined everywhere",
        "merges, vocab_size, corpus_symbols = [], [], []",
        "while len(merges) < merges_requested:",
        "    pair_counts = Counter()",
        "    for word, symbols in segmented.items():",
        "        for pair in zip(symbols, symbols[1:]):",
        "            pair_counts[pair] += word_counts[word]",
        "    if not pair_counts:",
        "        break  # every word is one symbol",
        "    best = max(pair_counts, key=lambda pair: (pair_counts[pair], pair))",
        "    if pair_counts[best] < min_frequency:",
        "        break  # the best pair is too rare",
        "    segmented = {w: merge(symbols, best) for w, symbols in segmented.items()}",
        "    vocabulary.add(best[0] + best[1])",
        "    merges.append(list(best))",
        "    vocab_size.append(len(vocabulary))  # base symbols + the merges' symbols",
        "    left = {symbol for symbols in segmented.values() for symbol in symbols}",
        "    corpus_symbols.append(len(left))",
        "",
        heading(trace, "encode"),
        "rank = {}",
        "for number, (a, b) in enumerate(merges):",
        "    rank.setdefault((a, b), number)",
        "",
        "",
        "def segment(word):",
        "    \"\"\"Merge the adjacent pair learned earliest, until none is left.\"\"\"",
        "    symbols = characters(word)",
        "    while len(symbols) > 1:",
        "        known = [pair for pair in zip(symbols, symbols[1:]) if pair in rank]",
        "        if not known:",
        "            break",
        "        symbols = merge(symbols, min(known, key=rank.get))",
        "    return list(symbols)",
        "",
        "",
        "encoded = {word: segment(word) for word in encode}",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "text": Input("text"),
        "file": Input("path"),
        "merges": Input("integer", minimum=0),
        "min-frequency": Input("integer", minimum=1),
        "top": Input("integer", minimum=1, maximum=50),
        "show": Input("integer", minimum=0, maximum=200),
        "encode": Input("text"),
    },
    targets=(
        Target("symbols", "initial_vocab_size", symbol="the number of base symbols"),
        *(Target(f"merge-{n}", "frequency") for n in range(1, 11)),
        Target("encode", "encoded"),
    ),
    script=script,
)
