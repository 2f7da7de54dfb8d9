"""Bad GGUF files of nntutor's own tiny model, written once per test session, for lessons' BAD_INPUTS.

``bad_inputs("model")`` gives ``({"model": PATH}, "--model", fragment)`` rows for the tiny-model
lessons (a lesson test file adds them to its ``BAD_INPUTS``); without the gguf package, none.
The files live in a temporary folder removed when the tests end.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _files() -> dict[str, tuple[Path, str]]:
    try:
        import gguf
    except ImportError:
        return {}
    import numpy as np

    from nntutor.models.model import load_model
    from nntutor.models.modelfile_gguf import write_gguf
    from tests import tiny_gguf

    folder = Path(tempfile.mkdtemp(prefix="nntutor-bad-gguf-"))
    atexit.register(shutil.rmtree, folder, True)
    good = folder / "good.gguf"
    write_gguf(load_model("tiny"), good)
    (folder / "truncated.gguf").write_bytes(good.read_bytes()[:3000])
    tiny_gguf.write(folder / "llama.gguf")
    # an nntutor file whose unembedding is F32: written as gguf's writer writes it, the rest copied
    reader = gguf.GGUFReader(str(good), "r")
    writer = gguf.GGUFWriter(str(folder / "float32.gguf"), "nntutor")
    for key, entry in reader.fields.items():
        if not key.startswith("GGUF.") and key != "general.architecture":
            writer.add_key_value(key, entry.contents(), entry.types[0], sub_type=entry.types[1] if len(entry.types) > 1 else None)
    for entry in reader.tensors:
        value = np.array(entry.data)
        writer.add_tensor(entry.name, value.astype(np.float32) if entry.name == "output.weight" else value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {
        "truncated": (folder / "truncated.gguf", "truncated or damaged GGUF file"),
        "llama": (folder / "llama.gguf", "holds a llama model, not nntutor's own tiny model"),
        "float32": (folder / "float32.gguf", "tensor output.weight is F32, not F64"),
    }


def bad_inputs(name: str = "model") -> list[tuple[dict[str, str], str, str]]:
    """BAD_INPUTS rows: each bad file given to ``--NAME``."""
    return [({name: str(path)}, f"--{name}", fragment) for path, fragment in _files().values()]
