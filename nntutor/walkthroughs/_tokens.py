"""Tokens as a learner reads them: a word-final BPE symbol without its ``</w>`` marker.

>>> [shown(t) for t in ("the</w>", "floode", "d", "?</w>")]
['the', 'floode-', 'd-', '?']
"""

from __future__ import annotations

END = "</w>"


def shown(token: str) -> str:
    """``'dogs</w>'`` → ``'dogs'``; a piece inside a word keeps a trailing ``-`` (``'floode'`` → ``'floode-'``)."""
    if token.endswith(END):
        return token[: -len(END)]
    return token if token.startswith("<") and token.endswith(">") else token + "-"  # <unk>: as it is
