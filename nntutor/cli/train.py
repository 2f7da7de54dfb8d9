"""``nntutor train``: parse the flags, train (:mod:`nntutor.models.train`), write, summarise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from nntutor.errors import InputError, OutputError


def _opt(flag: str, help_text: str, metavar: str = "N", *extra: str):
    return typer.Option(flag, *extra, help=help_text, metavar=metavar)


def train(
    seed: Annotated[str, _opt("--seed", "Seed for the starting weights and the order of the batches: the same seed and settings give the same model, step for step.")] = "18",
    steps: Annotated[str, _opt("--steps", "How many steps of gradient descent (one batch each).")] = "1200",
    batch_size: Annotated[str, _opt("--batch-size", "Windows of text per batch; each window is context + 1 tokens.")] = "16",
    lr: Annotated[str, _opt("--lr", "The learning rate of AdamW: about how far each weight moves per step.", "RATE")] = "0.003",
    weight_decay: Annotated[str, _opt("--weight-decay", "AdamW's weight decay λ: each step shrinks every weight matrix by lr·λ of itself.", "λ")] = "0.01",
    d_model: Annotated[str, _opt("--d-model", "The width of every token vector.")] = "32",
    layers: Annotated[str, _opt("--layers", "How many transformer blocks.")] = "2",
    heads: Annotated[str, _opt("--heads", "Attention heads per block (must divide --d-model).")] = "2",
    context: Annotated[str, _opt("--context", "The longest sequence the model reads, in tokens.")] = "32",
    output: Annotated[str | None, _opt("--output", "Where to write the model file (default: model.npz in your data folder). "
                                       "A name ending in .gguf writes a GGUF file (needs: pip install \"nntutor\\[models]\"); "
                                       "any other name, nntutor's .npz model file.", "PATH", "-o")] = None,
) -> None:
    """Train the tiny transformer from scratch, in NumPy, and write it to a model file.

    The corpus is nntutor's own small grammar (the bank of the river and the bank
    that holds money, who gave what to whom, agreement); the tokenizer is BPE
    learned from it. Each step takes a batch of windows of text, computes the
    next-token loss (the mean of −ln p, p the probability the model gave the
    right next token), runs the backward pass through every block and updates
    every weight with AdamW. Ctrl-C stops after the step under way and keeps the
    model as it was then.

    The lessons use the result with --model PATH (they use the shipped model,
    trained by this command with its defaults, unless told otherwise). -o
    NAME.gguf writes it as GGUF (see: nntutor export --help).
    """
    from nntutor.catalog.inputs import check_range, parse_integer, parse_scalar
    from nntutor.models import train as training

    ints = {}
    for key, flag, raw in (("seed", "--seed", seed), ("steps", "--steps", steps), ("batch_size", "--batch-size", batch_size),
                           ("d_model", "--d-model", d_model), ("layers", "--layers", layers), ("heads", "--heads", heads),
                           ("context", "--context", context)):
        ints[key] = parse_integer(flag, raw)
        low, high = training.LIMITS[key]
        check_range(flag, ints[key], minimum=low, maximum=high)
    rate = parse_scalar("--lr", lr)
    check_range("--lr", rate, above=0, maximum=1)
    decay = parse_scalar("--weight-decay", weight_decay)
    check_range("--weight-decay", decay, minimum=0, below=1)
    if ints["d_model"] % ints["heads"]:
        raise InputError("--heads", f"{ints['heads']} does not divide --d-model {ints['d_model']} (each head takes d_model / heads columns)")
    settings = training.Settings(lr=rate, weight_decay=decay, **ints)
    path = _output_path(output)
    _run(settings, path)


def _output_path(output: str | None) -> str:
    """The file to write, checked before any training (a minute is not lost on a bad path)."""
    if output is None:
        from nntutor.models.train import default_output
        from nntutor.study.datadir import make_data_dir

        path = default_output()
        try:
            make_data_dir(Path(path).parent)
        except OSError as exc:
            raise OutputError(f"--output: cannot use the data folder ({exc.strerror or exc})") from None
        return path
    if not output.strip():
        raise InputError("--output", "the path is empty")
    folder = os.path.dirname(os.path.abspath(output))
    if os.path.isdir(output):
        raise InputError("--output", f"{output!r} is a folder (expected a file name, e.g. model.npz)")
    if not os.path.isdir(folder):
        raise InputError("--output", f"the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"--output: cannot write in {folder!r} (no permission)")
    from nntutor.models.modelfile_gguf import is_gguf_path

    if is_gguf_path(output):
        from nntutor.models.gguf_file import require_gguf

        require_gguf("--output")  # said before training, not after
    return output


def _run(settings, path: str) -> None:
    from nntutor.models.evaluate import evaluate
    from nntutor.models.model import save_model
    from nntutor.models.train import command_line
    from nntutor.models.train import train as run_training
    from nntutor.render.train_view import TrainProgress, TrainSummary, show_summary

    command = command_line(settings)
    with TrainProgress(settings.steps) as bar:
        result = run_training(settings, command=command, on_step=lambda p: bar.update(p.step, p.loss))
    if not result.losses:
        from nntutor.render.output import print_message

        print_message("Stopped by Ctrl-C before the first step: nothing written.")
        raise typer.Exit(130)
    try:
        save_model(result.model, path)
    except OSError as exc:
        raise OutputError(f"--output: cannot write {path!r} ({exc.strerror or exc})") from None
    scores = evaluate(result.model)
    show_summary(TrainSummary(
        path, len(result.losses), settings.steps, result.interrupted, result.losses[0], result.losses[-1], result.seconds,
        scores.accuracy, scores.determined, scores.perplexity, scores.baseline, scores.floor, command,
    ))
    if result.interrupted:
        raise typer.Exit(130)
