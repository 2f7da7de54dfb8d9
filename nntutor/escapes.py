"""Text from outside (lesson files, a learner's files) made safe to show on a terminal.

A terminal obeys control characters: ``ESC ] 0 ; … BEL`` retitles the window,
``ESC [ 2 J`` clears it, a carriage return writes over the line. Every control
character except the newline and the tab is therefore shown escaped, as Python
writes it in a string (``\\x1b``), so the learner sees what the text holds.

>>> escape_controls("tab\\tand newline\\n stay; \\x1b]0;title\\x07 and \\x9b do not")
'tab\\tand newline\\n stay; \\\\x1b]0;title\\\\x07 and \\\\x9b do not'
>>> escape_controls("plain text, π and → unchanged")
'plain text, π and → unchanged'
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with every control character but newline and tab written as ``\\xNN``."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def has_controls(text: str) -> bool:
    """True when :func:`escape_controls` would change ``text``."""
    return _CONTROL.search(text) is not None
