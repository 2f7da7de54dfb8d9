"""The transformer-params lesson: by hand, against PyTorch models' numel, and the published counts.

Proof for the outputs (per_block, total, memory):
- hand-worked counts for the defaults (the arithmetic is in the comments);
- the numel of an equivalent PyTorch model: token and position nn.Embedding, L pre-norm
  nn.TransformerEncoderLayer blocks (nn.MultiheadAttention with biases, two nn.Linear, two
  nn.LayerNorm), a final nn.LayerNorm and an nn.Linear output layer (its weight tied or
  not), built with real float64 tensors at small sizes and on the meta device (no memory)
  at GPT-2 small's and GPT-3's sizes; block by block as well as in total;
- the published counts: GPT-2 small's released checkpoint has exactly 124,439,808
  parameters; the GPT-3 paper gives 175.0B, rounded.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.quiz.mistakes import Case, alternatives
from nntutor.walkthroughs.transformer_params import WALKTHROUGH

LESSON = "transformer-params"


def _run(flags=None):
    return run_lesson(load_lesson(LESSON), flags or {})


# --------------------------------------------------------------------------- by hand


def test_defaults_by_hand():
    trace = _run()
    # V = 50, d = 8, L = 2, h = 2 (d_head = 8/2 = 4), d_ff = 4×8 = 32, n_ctx = 16, tied.
    # attention: W_Q, W_K, W_V, W_O are 8×8 = 64 weights + 8 biases = 72 each; 4×72 = 288 = 4×64 + 4×8
    assert trace.step("attention").value("attention").data == 288
    # FFN: W1 8×32 = 256 + b1 32 = 288; W2 32×8 = 256 + b2 8 = 264; 288 + 264 = 552 = 2×8×32 + 32 + 8
    assert trace.step("ffn").value("ffn").data == 552
    # layer norms: 2 × (γ 8 + β 8) = 32 = 4×8; block: 288 + 552 + 32 = 872 = 12×64 + 13×8
    assert trace.step("block").value("norms").data == 32
    assert trace.outputs["per_block"] == {"attention": 288, "ffn": 552, "layer_norms": 32, "total": 872}
    # around the blocks: token embedding 50×8 = 400, positions 16×8 = 128, final layer norm 2×8 = 16,
    # tied output layer 0. Total: 400 + 128 + 2×872 + 16 = 400 + 128 + 1744 + 16 = 2288.
    assert trace.step("embeddings").value("embedding").data == 400
    assert trace.step("embeddings").value("positions").data == 128
    assert trace.outputs["total"] == 2288
    # memory: 2288 × 4 = 9152 bytes in FP32, 2288 × 2 = 4576 in FP16.
    assert trace.outputs["memory"] == {"FP32 bytes": 9152, "FP16 bytes": 4576}
    assert "attention = 4·d² + 4·d = 4×8² + 4×8 = 256 + 32 = 288" in trace.step("attention").worked
    assert "total = V·d + n_ctx·d + L·P_block + 2d = 400 + 128 + 2×872 + 16 = 2288" in trace.step("total").worked
    # 12·L·d² = 12×2×64 = 1536: the rule of thumb is only 67% of this narrow model.
    assert any("12×2×8² = 1536 (67% of the total)" in line for line in trace.step("total").worked)


def test_untied_and_heads_by_hand():
    # --untied adds an output layer of V×d = 50×8 = 400: 2288 + 400 = 2688.
    assert _run({"untied": True}).outputs["total"] == 2688
    # 4 heads of width 2 instead of 2 of width 4: nothing changes in the count.
    four = _run({"heads": "4"})
    assert four.outputs == _run().outputs
    assert "d_head = d_model / h = 8 / 4 = 2" in four.step("sizes").worked
    # d_ff typed: d = 8, d_ff = 16: FFN 2×8×16 + 16 + 8 = 280, block 288 + 280 + 32 = 600,
    # total 400 + 128 + 2×600 + 16 = 1744.
    trace = _run({"d-ff": "16"})
    assert trace.outputs["per_block"]["ffn"] == 280 and trace.outputs["total"] == 1744
    # d = 4 with its default d_ff = 16: attention 4×16 + 16 = 80, FFN 2×4×16 + 16 + 4 = 148,
    # norms 16, block 244 (= 12×16 + 13×4); total 50×4 + 16×4 + 2×244 + 8 = 200 + 64 + 488 + 8 = 760.
    trace = _run({"d-model": "4"})
    assert trace.outputs["per_block"] == {"attention": 80, "ffn": 148, "layer_norms": 16, "total": 244}
    assert trace.outputs["total"] == 760


def test_presets_against_the_published_counts():
    # GPT-2 small, by hand: attention 4×768² + 4×768 = 2,359,296 + 3,072 = 2,362,368;
    # FFN 2×768×3072 + 3072 + 768 = 4,718,592 + 3,840 = 4,722,432; norms 3,072; block 7,087,872;
    # 12 blocks 85,054,464; tokens 50,257×768 = 38,597,376; positions 1,024×768 = 786,432; final 1,536.
    # 38,597,376 + 786,432 + 85,054,464 + 1,536 = 124,439,808: the released checkpoint's count.
    gpt2 = _run({"preset": "gpt2-small"})
    assert gpt2.outputs["per_block"]["total"] == 7_087_872
    assert gpt2.outputs["total"] == 124_439_808
    assert gpt2.outputs["memory"]["FP32 bytes"] == 497_759_232  # 497.8 MB
    assert any("counted − published = 0" in line for line in gpt2.step("total").worked)
    # GPT-3: d = 12,288, d_head 12,288/96 = 128, 96 × 96 = 9,216 heads; 12d² + 13d = 1,812,099,072 a block.
    gpt3 = _run({"preset": "gpt3"})
    assert "heads in the model = h × L = 96 × 96 = 9216" in gpt3.step("sizes").worked
    assert gpt3.outputs["per_block"]["total"] == 12 * 12288**2 + 13 * 12288 == 1_812_099_072
    total = gpt3.outputs["total"]
    assert total == 174_604_259_328
    assert abs(total - 175.0e9) / 175.0e9 < 0.0025  # the paper's 175.0B is rounded
    assert gpt3.outputs["memory"]["FP16 bytes"] == 349_208_518_656  # about 349.2 GB
    # a typed size changes the preset: GPT-2 small with 24 blocks has 12 more of 7,087,872
    deeper = _run({"preset": "gpt2-small", "layers": "24"})
    assert deeper.outputs["total"] == 124_439_808 + 12 * 7_087_872
    assert any("the sizes typed change it" in line for line in deeper.step("total").worked)


# --------------------------------------------------------------------------- PyTorch numel


def _torch_gpt(torch, vocab, d, layers, heads, d_ff, context, tied, device="cpu"):
    nn = torch.nn

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(context, d)
            self.blocks = nn.ModuleList(
                nn.TransformerEncoderLayer(d, heads, d_ff, dropout=0.0, batch_first=True, norm_first=True)
                for _ in range(layers)
            )
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)
            if tied:
                self.head.weight = self.wte.weight

        def forward(self, ids):
            x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
            for block in self.blocks:
                x = block(x, is_causal=False)
            return self.head(self.ln_f(x))

    with torch.device(device):
        return GPT().to(torch.float64) if device == "cpu" else GPT()


def _numel(module) -> int:
    return sum(p.numel() for p in module.parameters())  # a tied weight is one parameter, counted once


def _check_against_torch(torch, flags, sizes, device="cpu"):
    trace = _run(flags)
    model = _torch_gpt(torch, *sizes, device=device)
    block = model.blocks[0]
    assert trace.outputs["per_block"] == {
        "attention": _numel(block.self_attn),
        "ffn": _numel(block.linear1) + _numel(block.linear2),
        "layer_norms": _numel(block.norm1) + _numel(block.norm2),
        "total": _numel(block),
    }
    assert trace.step("embeddings").value("embedding").data == model.wte.weight.numel()
    assert trace.step("embeddings").value("positions").data == model.wpe.weight.numel()
    assert trace.outputs["total"] == _numel(model)
    size = {"FP32 bytes": torch.float32, "FP16 bytes": torch.float16}
    for key, dtype in size.items():
        element = torch.empty((), dtype=dtype).element_size()
        assert trace.outputs["memory"][key] == _numel(model) * element
    return model


def test_defaults_against_a_torch_model(torch):
    model = _check_against_torch(torch, {}, (50, 8, 2, 2, 32, 16, True))
    logits = model(torch.tensor([[1, 2, 3]]))  # a working model, not just a list of shapes
    assert tuple(logits.shape) == (1, 3, 50) and logits.dtype == torch.float64


def test_random_sizes_against_torch_models(torch):
    rng = np.random.default_rng(19)
    for _ in range(6):
        d = int(rng.choice([4, 6, 8, 12]))
        heads = int(rng.choice([k for k in range(1, d + 1) if d % k == 0]))
        vocab, layers, d_ff, context = int(rng.integers(5, 80)), int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 30))
        tied = bool(rng.random() < 0.5)
        flags = {"vocab": str(vocab), "d-model": str(d), "layers": str(layers), "heads": str(heads),
                 "d-ff": str(d_ff), "context": str(context), "untied": not tied}
        _check_against_torch(torch, flags, (vocab, d, layers, heads, d_ff, context, tied))


def test_presets_against_torch_models_on_the_meta_device(torch):
    """Full size, without memory: meta tensors have shapes and no data."""
    _check_against_torch(torch, {"preset": "gpt2-small"}, (50257, 768, 12, 12, 3072, 1024, True), device="meta")
    model = _check_against_torch(torch, {"preset": "gpt3"}, (50257, 12288, 96, 96, 49152, 2048, True), device="meta")
    assert _numel(model) == 174_604_259_328
    untied = _check_against_torch(torch, {"preset": "gpt2-small", "untied": True},
                                  (50257, 768, 12, 12, 3072, 1024, False), device="meta")
    assert _numel(untied) == 124_439_808 + 50257 * 768


# --------------------------------------------------------------------------- known mistakes


def _case(flags, step, value):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, flags))
    return Case(prepared, prepared.build(), step, value, ())


def _mistakes(case) -> dict[str, float]:
    return {m.id: v for m, v in alternatives(WALKTHROUGH.mistakes, case)}


def test_mistakes_recomputed_on_the_hand_worked_case():
    # No biases: attention 4×8² = 256 (right: 288); FFN 2×8×32 = 512 (right: 552).
    assert _mistakes(_case({}, "attention", "attention"))["no-biases"] == 256
    assert _mistakes(_case({}, "ffn", "ffn"))["no-biases"] == 512
    # Every head with its own 8×8 W_Q, W_K, W_V: 2 heads × 3 × 64 + 64 + 4×8 = 384 + 64 + 32 = 480.
    assert _mistakes(_case({}, "attention", "attention"))["full-width-heads"] == 480
    # with one head there is nothing to get wrong
    assert "full-width-heads" not in _mistakes(_case({"heads": "1"}, "attention", "attention"))
    # One layer norm per block: 2×8 = 16 (right: 32); the block 872 − 16 = 856.
    assert _mistakes(_case({}, "block", "norms"))["one-layernorm"] == 16
    assert _mistakes(_case({}, "block", "block"))["one-layernorm"] == 856
    # The total: a tied output layer counted, 2288 + 400 = 2688; positions left out, 2288 − 128 = 2160;
    # no biases, 2288 − 2 × (4×8 + 32 + 8) = 2288 − 144 = 2144.
    found = _mistakes(_case({}, "total", "total"))
    assert found["tied-counted"] == 2688 and found["no-positions"] == 2160 and found["no-biases"] == 2144
    assert "tied-counted" not in _mistakes(_case({"untied": True}, "total", "total"))
    # Bits for bytes: 2288 × 32 = 73,216 instead of 9,152.
    assert _mistakes(_case({}, "memory", "FP32"))["bits-for-bytes"] == 73216


def test_a_wrong_quiz_answer_is_named():
    from nntutor.quiz.questions import numeric_question
    from nntutor.walkthroughs._declare import Target

    lesson = load_lesson(LESSON)
    question = numeric_question(lesson, np.random.default_rng(3), Target("attention", "attention"))
    ids = {mistake_id: value for mistake_id, _, value in question.mistakes}
    assert question.diagnose(ids["no-biases"])[0] == "no-biases"
    assert question.judge(question.expected) and question.diagnose(question.expected) is None


# --------------------------------------------------------------------------- CLI


def test_the_json_names_the_outputs_of_the_issue(run_cli):
    result = run_cli("lesson", LESSON, "--preset", "gpt2-small", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert sorted(outputs) == ["memory", "per_block", "total"]
    assert outputs["total"] == 124_439_808 and outputs["per_block"]["total"] == 7_087_872
    assert outputs["memory"] == {"FP32 bytes": 497_759_232, "FP16 bytes": 248_879_616}


def test_fits_80_columns(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    for flags in ((), ("--preset", "gpt3")):
        result = run_cli("lesson", LESSON, *flags)
        assert result.exit_code == 0, result.stderr
        assert max(len(line) for line in result.stdout.splitlines()) <= 80
        if not flags:
            assert len(result.stdout.split("\nWhat next")[0].splitlines()) <= 150  # the lesson, before its closing pointers


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"d-model": "7"}, "--d-model", "--d-model: is 7 but --heads (default 2) does not divide 7"),
    ({"heads": "3"}, "--heads", "d_model = 8 (--d-model) is not divisible by h = 3"),
    ({"heads": "16"}, "--heads", "so h must divide 8"),
    ({"preset": "gpt2-small", "d-model": "1000"}, "--d-model",
     "--d-model: is 1000 but --heads (12 in --preset gpt2-small) does not divide 1000"),
    ({"preset": "gpt3", "heads": "100"}, "--heads", "d_model = 12288 (--preset gpt3) is not divisible by h = 100"),
    ({"preset": "gpt4"}, "--preset", "is not one of: gpt2-small, gpt3"),
    ({"vocab": "0"}, "--vocab", "too small"),
    ({"d-model": "200000"}, "--d-model", "at most 100000"),
    ({"layers": "5000"}, "--layers", "at most 1000"),
    ({"d-ff": "0"}, "--d-ff", "too small"),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quiz_sizes_are_small_and_accepted(seed):
    lesson = load_lesson(LESSON)
    values = WALKTHROUGH.extra(np.random.default_rng(seed), lesson.defaults())
    inputs = prepare(lesson, parse_args(lesson, {k: v if isinstance(v, bool) else str(v) for k, v in values.items()})).inputs
    assert inputs.sizes.d_model <= 16 and inputs.sizes.d_model % inputs.sizes.heads == 0
