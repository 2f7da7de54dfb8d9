"""``nntutor export``: write an nntutor model (the shipped one or a file) as GGUF or as ``.npz``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from nntutor.errors import InputError, OutputError

SUFFIXES = (".gguf", ".npz")


def export(
    model: Annotated[str, typer.Argument(help="tiny (the model shipped with nntutor), or a model file: .npz from "
                                              "nntutor train, or a GGUF file this command wrote.", metavar="MODEL",
                                         show_default=False)],
    output: Annotated[str, typer.Option("--output", "-o", help="The file to write. Its name chooses the format: "
                                        "NAME.gguf writes GGUF (needs: pip install \"nntutor\\[models]\"), NAME.npz "
                                        "nntutor's own model file.", metavar="PATH", show_default=False)],
) -> None:
    """Write an nntutor model as a GGUF file (or back as .npz), every number unchanged.

    The GGUF file says what the tiny model is: general.architecture
    "nntutor" (pre-norm LayerNorm with γ and β, sinusoidal positions added to
    the embeddings, a ReLU feed-forward with biases, its own BPE tokenizer),
    not a Llama or GPT-2 that another program would compute differently.
    Tensors are named as llama.cpp names them (token_embd, position_embd,
    blk.N.attn_q, …, output) and stored as F64, so reading the file back gives
    the same float64 numbers, bit for bit.

    Run it: nntutor lesson next-token --model PATH.gguf (also pipeline,
    generate, lm-loss, train-step, attention-patterns).
    """
    from nntutor.models.model import load_model, save_model
    from nntutor.models.modelfile import ModelFileError, ModelFileUnreadable
    from nntutor.models.modelfile_gguf import is_gguf_path

    path = _output_path(output)
    if is_gguf_path(path):
        from nntutor.models.gguf_file import require_gguf

        require_gguf("--output")
    try:
        loaded = load_model(model.strip())
    except ModelFileUnreadable as exc:
        raise OutputError(f"MODEL: {exc}") from None  # exit 1: the file is there but cannot be read
    except ModelFileError as exc:
        raise InputError("MODEL", f"{exc} (expected tiny or a model file written by nntutor train or nntutor export)") from None
    try:
        save_model(loaded, path)
    except OSError as exc:
        raise OutputError(f"--output: cannot write {path!r} ({exc.strerror or exc})") from None
    _summary(loaded, path)


def _output_path(output: str) -> str:
    """The file to write: a .gguf or .npz name in a folder that exists and can be written."""
    if not output.strip():
        raise InputError("--output", "the path is empty")
    if os.path.isdir(output):
        raise InputError("--output", f"{output!r} is a folder (expected a file name, e.g. tiny.gguf)")
    if not output.lower().endswith(SUFFIXES):
        raise InputError("--output", f"{output!r} does not end in .gguf or .npz (the name chooses the format)")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise InputError("--output", f"the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"--output: cannot write in {folder!r} (no permission)")
    return output


def _summary(model, path: str) -> None:
    from rich.text import Text

    from nntutor.core.lm import parameters
    from nntutor.models.modelfile_gguf import is_gguf_path
    from nntutor.render.output import emit

    count = sum(int(value.size) for value in parameters(model.weights).values())
    what = ("GGUF, architecture nntutor, every tensor F64" if is_gguf_path(path) else "nntutor's .npz model file, float64")
    emit(Text(f"Model written to {path} ({what}): {count:,} parameters, {model.layers} blocks of {model.heads} heads, "
              f"d_model {model.d_model}, vocabulary {model.vocab_size}, the same numbers bit for bit."),
         Text(f"Use it: nntutor lesson next-token --model {path}"))
