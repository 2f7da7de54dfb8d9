"""The shipped tiny model: it learned, it is reproducible, its numbers are PyTorch's, bad files are refused.

Proofs:
- learned: on held-out sentences (never trained on), top-1 next-token accuracy at the
  positions the grammar determines is at least 80%, for each kind of determined
  position too, and the held-out perplexity is under 1/20 of the uniform baseline V;
- hand-worked: the grammar's sizes counted by hand, the determined positions of one
  sentence worked out by reading the grammar;
- reproducible: a 25-step retrain with the recorded settings gives the recorded loss
  curve's first 25 losses within 1e-9 (the same arithmetic in the same order: any
  difference is BLAS rounding); the full retrain (slow) reproduces the whole curve
  within 1e-6 and the same held-out numbers. Training amplifies a last-bit change:
  one rounding difference in a core function grows to about 1e-2 in the batch losses
  by step 1,200, so when the slow test fails after a change to core arithmetic,
  retrain the shipped model with the README's command;
- the tokenizer's merges are subword-nmt's merges on the same training text;
- oracle (PyTorch float64): the architecture written in PyTorch, loaded with the
  saved weights, gives the same logits at 1e-10; one training step gives the same
  gradients (autograd) at 1e-10 and the same parameters as ``torch.optim.AdamW``
  (two groups: weight decay on the matrices only) at 1e-12 (1e-10 for the key biases,
  whose gradient is rounding noise: see the test);
- every kind of bad model file is refused with one line naming the file.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nntutor.core.lm import decayed_names, lm_backward, lm_loss, parameters
from nntutor.core.optim import adamw_init, adamw_step
from nntutor.models import corpus
from nntutor.models.evaluate import determined_positions, evaluate
from nntutor.models.model import load_model, random_model, save_model, shipped_path
from nntutor.models.modelfile import FORMAT, ModelFileError, ModelFileUnreadable
from nntutor.models.train import Settings, command_line, draw_batch, start, train
from tests.test_lm import torch_lm


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny")


def recorded_settings(model) -> Settings:
    t = model.config["training"]
    a = model.config["architecture"]
    return Settings(seed=t["seed"], steps=t["steps"], batch_size=t["batch_size"], lr=t["lr"], weight_decay=t["weight_decay"],
                    d_model=a["d_model"], layers=a["layers"], heads=a["heads"], context=a["context"])


# ----------------------------------------------------------------------------- the corpus


def test_grammar_sizes_by_hand():
    # bank people: 2 senses × 3 people × 2 verbs × 3 things = 36; bank places: 2 × 3 days × 3 moods = 18;
    # gifts and comparisons: 8·7 ordered pairs × 3 = 168 each; agreement: 5 × 3 × 3 moods × 2 × 2 = 180.
    assert len(corpus.language()) == 36 + 18 + 168 + 168 + 180 == 570
    parts = corpus.split()
    assert not {s.text for s in parts.train} & {s.text for s in parts.held_out}
    assert {s.template for s in parts.held_out} == {s.template for s in corpus.language()}


def test_determined_positions_by_reading_the_grammar(tiny):
    gift = next(s for s in corpus.language() if s.text == "anna gave the book to ben , and ben thanked anna .")
    found = {(tiny.vocab[p.expected], p.tag) for p in determined_positions(tiny.tokenizer, gift)}
    # after "anna": only "gave" (no other template starts with a name then anything else? "is" too): not determined;
    # after "anna gave": "the"; after "to": any other name (7): not determined; after "ben": ","; ", and" → ben (copy);
    # "ben thanked" → the giver (copy); then "."
    assert ("ben</w>", "copy") in found and ("anna</w>", "copy") in found and ("thanked</w>", "template") in found
    indices = [p.index for p in determined_positions(tiny.tokenizer, gift)]
    assert 0 not in indices  # "anna" may go on with "gave" or "is"
    assert 4 not in indices  # "… to" may go on with 7 names


def test_tokenizer_merges_equal_subword_nmt(tiny):
    learn_module = pytest.importorskip("subword_nmt.learn_bpe", reason="subword-nmt oracle not installed")
    import codecs
    import contextlib

    text = corpus.text_of(corpus.split().train)
    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        learn_module.learn_bpe(codecs.getreader("utf-8")(io.BytesIO(text.encode())), out, 1000, 2)
    reference = [tuple(line.split(" ")) for line in out.getvalue().split("\n")[1:] if line]
    assert list(tiny.tokenizer.merges) == reference


def test_every_sentence_round_trips(tiny):
    for s in corpus.language():
        ids = tiny.encode(s.text)
        assert 0 not in ids.tolist() or s.text.count("closed")  # only a held-out-only word may fall apart
        assert tiny.decode(ids) == s.text


# ----------------------------------------------------------------------------- it learned


def test_shipped_model_learned(tiny):
    e = evaluate(tiny)
    assert e.accuracy >= 0.80
    assert e.perplexity < e.baseline / 20
    assert e.floor <= e.perplexity < 1.2 * e.floor  # near the grammar's own uncertainty
    assert e.baseline == tiny.vocab_size
    for tag, (correct, n) in e.by_tag.items():
        assert n > 0 and correct / n >= 0.80, tag
    assert e.determined > 300 and e.sentences == len(corpus.split().held_out)


def test_random_model_did_not_learn(tiny):
    e = evaluate(random_model(tiny, seed=0))
    assert e.accuracy < 0.2 and e.perplexity > 30  # the same yardstick can fail


def test_shipped_file_is_small_and_records_its_training(tiny):
    assert os.path.getsize(shipped_path()) < 500_000
    t = tiny.config["training"]
    assert t["command"] == command_line(recorded_settings(tiny))
    assert len(t["loss_curve"]) == t["steps_done"] == t["steps"]
    assert tiny.config["corpus"]["sha256"] == corpus.checksum()


# ----------------------------------------------------------------------------- reproducible


def test_short_retrain_matches_the_recorded_curve(tiny):
    settings = recorded_settings(tiny)._replace(steps=25)
    losses = train(settings).losses
    np.testing.assert_allclose(losses, tiny.loss_curve[:25], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_full_retrain_reproduces_the_shipped_model(tiny):
    result = train(recorded_settings(tiny))
    np.testing.assert_allclose(result.losses, tiny.loss_curve, rtol=0, atol=1e-6)
    ours, shipped = evaluate(result.model), evaluate(tiny)
    assert ours.accuracy == shipped.accuracy
    assert ours.perplexity == pytest.approx(shipped.perplexity, abs=1e-6)


# ----------------------------------------------------------------------------- PyTorch oracle


@pytest.mark.oracle
def test_saved_weights_give_pytorchs_logits(torch, tiny):
    tp = {k: torch.tensor(v) for k, v in parameters(tiny.weights).items()}
    ids = np.stack([tiny.encode(s.text)[:8] for s in corpus.split().held_out[:6]])
    ours = tiny.run(ids).logits
    theirs = torch_lm(torch, tp, torch.tensor(ids), tiny.heads, tiny.layers).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    assert np.abs(ours).max() > 1  # real logits, not all zero


@pytest.mark.oracle
def test_one_training_step_matches_pytorch_adamw(torch, tiny):
    settings = recorded_settings(tiny)
    _, sequences, rng, _ = start(settings)
    tokens = draw_batch(rng, sequences, 4, settings.context + 1)
    params = parameters(tiny.weights)
    result = lm_loss(tokens, tiny.weights, heads=tiny.heads)
    grads = lm_backward(result, tiny.weights).grads
    decay = decayed_names(tiny.layers)
    step = adamw_step(params, grads, adamw_init(params), lr=settings.lr, weight_decay=settings.weight_decay, decay_keys=decay)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ids = torch.tensor(tokens)
    logits = torch_lm(torch, tp, ids[:, :-1], tiny.heads, tiny.layers)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, tiny.vocab_size), ids[:, 1:].reshape(-1))
    loss.backward()
    assert result.loss == pytest.approx(loss.item(), abs=1e-10)
    for name, value in tp.items():
        np.testing.assert_allclose(grads[name], value.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)
    groups = [{"params": [tp[k] for k in tp if k in decay], "weight_decay": settings.weight_decay},
              {"params": [tp[k] for k in tp if k not in decay], "weight_decay": 0.0}]
    torch.optim.AdamW(groups, lr=settings.lr).step()
    for name, value in tp.items():
        # b_K's gradient is exactly 0 in exact arithmetic (it adds q·b_K to every score of a row,
        # which the softmax ignores), so both sides hold rounding noise of about 1e-17 there;
        # AdamW divides it by ε = 1e-8 (√v̂ is far smaller), giving updates of about 1e-12 that differ.
        tolerance = 1e-10 if name.endswith(".bk") else 1e-12
        np.testing.assert_allclose(step.params[name], value.detach().numpy(), rtol=0, atol=tolerance, err_msg=name)
    assert max(float(np.abs(step.params[k] - params[k]).max()) for k in params) > settings.lr / 2  # it moved


# ----------------------------------------------------------------------------- bad files


def _arrays(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _write(path, arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def _with_config(arrays, change) -> dict:
    config = json.loads(arrays["config"].tobytes())
    change(config)
    out = dict(arrays)
    out["config"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    return out


def _set(section, key, value):
    def change(config):
        (config[section] if section else config)[key] = value
    return change


BAD_FILES = [
    ("not-zip", lambda p, a: p.write_bytes(b"hello, not a model"), "not an .npz archive"),
    ("truncated", lambda p, a: p.write_bytes(Path(shipped_path()).read_bytes()[:5000]), "damaged"),
    ("foreign-zip", lambda p, a: zipfile.ZipFile(p, "w").writestr("x.txt", "hi"), "no 'config'"),
    ("no-config", lambda p, a: _write(p, {k: v for k, v in a.items() if k != "config"}), "no 'config'"),
    ("bad-json", lambda p, a: _write(p, {**a, "config": np.frombuffer(b"{nope", dtype=np.uint8)}), "not valid JSON"),
    ("other-format", lambda p, a: _write(p, _with_config(a, _set(None, "format", "gguf"))), "not an nntutor model"),
    ("newer", lambda p, a: _write(p, _with_config(a, _set(None, "format_version", 2))), "format version 2"),
    ("heads", lambda p, a: _write(p, _with_config(a, _set("architecture", "heads", 3))), "does not divide"),
    ("d-model-text", lambda p, a: _write(p, _with_config(a, _set("architecture", "d_model", "32"))), "whole number"),
    ("vocab-size", lambda p, a: _write(p, _with_config(a, _set("architecture", "vocab_size", 7))), "vocab has"),
    ("missing-array", lambda p, a: _write(p, {k: v for k, v in a.items() if k != "block1.wq"}), "no array 'block1.wq'"),
    ("wrong-shape", lambda p, a: _write(p, {**a, "W_U": a["W_U"][:, :5]}), "array 'W_U' has shape"),
    ("float32", lambda p, a: _write(p, {**a, "E": a["E"].astype(np.float32)}), "not float64"),
    ("nan", lambda p, a: _write(p, {**a, "final_beta": np.full_like(a["final_beta"], np.nan)}), "NaN"),
    ("extra", lambda p, a: _write(p, {**a, "surprise": np.zeros(2)}), "'surprise'"),
    ("pickle", lambda p, a: np.savez(p, **{**a, "E": np.array([{"x": 1}], dtype=object)}), "damaged"),
]


@pytest.mark.parametrize(("name", "make", "fragment"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_model_files_are_refused(tmp_path, name, make, fragment):
    path = tmp_path / f"{name}.npz"
    make(path, _arrays(shipped_path()))
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message
    assert info.value.exit_code == 2


def test_missing_file_and_folder_exit_2_unreadable_exit_1(tmp_path):
    for path, fragment in ((tmp_path / "none.npz", "does not exist"), (tmp_path, "is a folder")):
        with pytest.raises(ModelFileError, match=fragment) as info:
            load_model(path)
        assert info.value.exit_code == 2
    locked = tmp_path / "locked.npz"
    locked.write_bytes(Path(shipped_path()).read_bytes())
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything
        pytest.skip("running as root: a file without read permission is still readable")
    with pytest.raises(ModelFileUnreadable) as info:
        load_model(locked)
    assert info.value.exit_code == 1


def test_an_io_failure_is_exit_1(tmp_path, monkeypatch):
    from nntutor.catalog import reading

    def failing(path, limit):
        raise reading.FileProblem("cannot be read (Input/output error)")

    monkeypatch.setattr(reading, "read_limited", failing)
    with pytest.raises(ModelFileUnreadable, match="Input/output error") as info:
        load_model(tmp_path / "any.npz")
    assert info.value.exit_code == 1


def test_save_then_load_is_exact(tmp_path, tiny):
    path = tmp_path / "copy.npz"
    save_model(tiny, path)
    again = load_model(path)
    for name, value in parameters(tiny.weights).items():
        assert np.array_equal(parameters(again.weights)[name], value)
    assert again.config["training"] == tiny.config["training"] and again.vocab == tiny.vocab
    assert json.loads(_arrays(path)["config"].tobytes())["format"] == FORMAT


# ----------------------------------------------------------------------------- nntutor train


def test_train_command_writes_a_model(run_cli, tmp_path):
    path = tmp_path / "m.npz"
    result = run_cli("train", "--steps", "3", "--batch-size", "2", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert f"Model written to {path}" in result.stdout
    model = load_model(path)
    assert model.config["training"]["command"].startswith("nntutor train --seed 18 --steps 3 --batch-size 2 ")
    assert len(model.loss_curve) == 3


def test_train_default_output_is_the_data_folder(run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("NNTUTOR_HOME", str(tmp_path / "home"))
    result = run_cli("train", "--steps", "1", "--batch-size", "1")
    assert result.exit_code == 0, result.stderr
    load_model(tmp_path / "home" / "model.npz")


BAD_TRAIN_FLAGS = [
    (["--steps", "0"], "--steps: 0 is too small"),
    (["--steps", "many"], "--steps: 'many' is not a whole number"),
    (["--steps", "1000000"], "--steps: 1000000 is too large"),
    (["--lr", "0"], "--lr: 0.0 is too small"),
    (["--lr", "nan"], "--lr: 'nan' is not allowed"),
    (["--weight-decay", "-1"], "--weight-decay: -1.0 is too small"),
    (["--heads", "3"], "--heads: 3 does not divide --d-model 32"),
    (["--batch-size", "2.5"], "--batch-size: '2.5' is not a whole number"),
    (["--seed", "-1"], "--seed: -1 is too small"),
    (["-o", "/no/such/folder/m.npz"], "--output: the folder '/no/such/folder' does not exist"),
    (["--colour", "x"], "No such option"),
]


@pytest.mark.parametrize(("flags", "fragment"), BAD_TRAIN_FLAGS, ids=[" ".join(f) for f, _ in BAD_TRAIN_FLAGS])
def test_train_refuses_bad_flags(run_cli, flags, fragment):
    result = run_cli("train", *flags)
    assert result.exit_code == 2
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_keeps_the_last_whole_step():
    def interrupt_at_3(progress):
        if progress.step == 3:
            raise KeyboardInterrupt

    stopped = train(Settings(steps=10, batch_size=2), on_step=interrupt_at_3)
    full = train(Settings(steps=3, batch_size=2))
    assert stopped.interrupted and len(stopped.losses) == 3
    assert stopped.losses == full.losses  # the same 3 steps, then nothing half done
    for name, value in parameters(full.model.weights).items():
        assert np.array_equal(parameters(stopped.model.weights)[name], value)


def test_train_command_on_ctrl_c_writes_the_model_and_exits_130(run_cli, tmp_path, monkeypatch):
    from nntutor.render import train_view

    def update(self, step, loss):
        if step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_view.TrainProgress, "update", update)
    path = tmp_path / "stopped.npz"
    result = run_cli("train", "--steps", "50", "--batch-size", "2", "-o", str(path))
    assert result.exit_code == 130
    assert "Stopped by Ctrl-C after step 2 of 50" in result.stdout
    model = load_model(path)
    assert model.config["training"]["steps_done"] == 2 and len(model.loss_curve) == 2


def test_train_flag_defaults_are_the_shipped_settings():
    import inspect

    from nntutor.cli.train import train as command

    defaults = {name: p.default for name, p in inspect.signature(command).parameters.items() if name != "output"}
    assert {k: type(getattr(Settings(), k))(v) for k, v in defaults.items()} == Settings()._asdict()
