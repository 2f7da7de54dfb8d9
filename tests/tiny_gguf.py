"""Tiny random Llama-architecture GGUF files for the tests, written with gguf's own GGUFWriter.

The weights are drawn in the Hugging Face layout (what ``LlamaForCausalLM`` holds) and
written as llama.cpp's converter writes them: Q and K rows permuted within each head so
that RoPE pairs are adjacent rows. ``hf_state_dict`` reads the file's dequantised
weights back and undoes that permutation, to load the same numbers into transformers.

K-quant types (Q4_K, Q6_K) have no quantiser in gguf: their blocks are random bytes
with sane fp16 scales, so the file still holds exactly known weights (gguf dequantises them).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# a byte-level vocabulary: the end-of-text token, the 256 byte symbols, then one token per merge
MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "i n", "a t", "Ġ c", "Ġc at", "Ġ s", "Ġs at", "o n", "Ġ on",
          "Ġ m", "Ġm at", "e r", "i s", "Ġ is", "Ġ i", "Ġi n", "c a", "ca t", "Ġ 1", "Ġ 2"]


class Tiny(NamedTuple):
    n_layer: int = 2
    d_model: int = 256
    n_head: int = 4
    n_head_kv: int = 2
    d_ff: int = 512
    context: int = 64
    rope_base: float = 10000.0
    eps: float = 1e-5
    tied: bool = False
    quant: str = "F32"  # type of every matrix (norm gains stay F32, as converters do)
    pre: str = "gpt2"


DEFAULT = Tiny()


def vocabulary() -> tuple[list[str], list[int]]:
    # GPT-2's byte symbols, written out here independently of nntutor's table
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    symbols, extra = [], 0
    for b in range(256):
        if b in keep:
            symbols.append(chr(b))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    tokens = ["<|endoftext|>", *symbols]
    for merge in MERGES:
        joined = merge.replace(" ", "")
        if joined not in tokens:
            tokens.append(joined)
    types = [3] + [1] * (len(tokens) - 1)
    return tokens, types


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    """HF rows (i, i + d/2 pair up) -> GGUF rows (2i, 2i + 1 pair up), within each head."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """GGUF rows back to the HF order (the inverse of ``_permute``)."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)


def _stored(gguf, w: np.ndarray, quant: str, rng) -> tuple[np.ndarray, object]:
    qtype = gguf.GGMLQuantizationType[quant]
    if quant in ("Q4_K", "Q6_K"):
        block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
        rows, cols = w.shape
        raw = rng.integers(0, 256, size=(rows, cols // block_elems, block_bytes), dtype=np.uint8)
        scale = np.float16(0.02 / np.sqrt(cols / 256))
        if quant == "Q4_K":  # d, dmin: the first two fp16 numbers of each block
            raw[:, :, 0:2] = np.frombuffer(scale.tobytes(), np.uint8)
            raw[:, :, 2:4] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)
        else:  # d: the last fp16 of the block; scales are int8 in front of it
            raw[:, :, block_bytes - 2:] = np.frombuffer(np.float16(scale / 4).tobytes(), np.uint8)
        return raw.reshape(rows, -1), qtype
    return gguf.quantize(w.astype(np.float32), qtype), qtype


def write(path, spec: Tiny = DEFAULT, seed: int = 0, *, arch: str = "llama", tokenizer: bool = True,
          drop: tuple[str, ...] = (), context: int | None = None, strings: dict[str, str] | None = None,
          tensors: dict[str, np.ndarray] | None = None) -> str:
    """Write a random model to ``path``; ``drop`` leaves tensors out (to test refusals);
    ``tensors`` gives some of them instead of drawing them (HF layout: Q and K are permuted
    as the drawn ones are), for a model whose numbers can be worked by hand."""
    import gguf

    rng = np.random.default_rng(seed)
    tokens, types = vocabulary()
    d, hd = spec.d_model, spec.d_model // spec.n_head
    kv = spec.n_head_kv * hd
    writer = gguf.GGUFWriter(str(path), arch)
    if "general.name" not in (strings or {}):
        writer.add_name("tiny test llama")
    writer.add_block_count(spec.n_layer)
    writer.add_context_length(context or spec.context)
    writer.add_embedding_length(d)
    writer.add_feed_forward_length(spec.d_ff)
    writer.add_head_count(spec.n_head)
    writer.add_head_count_kv(spec.n_head_kv)
    writer.add_rope_freq_base(spec.rope_base)
    writer.add_rope_dimension_count(hd)
    writer.add_layer_norm_rms_eps(spec.eps)
    writer.add_file_type(0)
    for key, value in (strings or {}).items():
        writer.add_string(key, value)
    if tokenizer:
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(spec.pre)
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        writer.add_token_merges(MERGES)
        writer.add_bos_token_id(0)
        writer.add_eos_token_id(0)

    def matrix(name, rows, cols, scale, permute_heads=0):
        if name in drop:
            return
        w = rng.normal(0.0, scale, size=(rows, cols))
        if name in (tensors or {}):
            w = np.asarray(tensors[name], dtype=np.float64).reshape(rows, cols)
        if permute_heads:
            w = _permute(w, permute_heads)
        data, qtype = _stored(gguf, w, spec.quant, rng)
        writer.add_tensor(name, data, raw_dtype=qtype)

    def gain(name, size):
        if name not in drop:
            g = 1.0 + 0.2 * rng.normal(size=size)
            if name in (tensors or {}):
                g = np.asarray(tensors[name], dtype=np.float64).reshape(size)
            writer.add_tensor(name, g.astype(np.float32))

    vocab = len(tokens)
    matrix("token_embd.weight", vocab, d, 1.0)
    for i in range(spec.n_layer):
        gain(f"blk.{i}.attn_norm.weight", d)
        matrix(f"blk.{i}.attn_q.weight", d, d, 2.0 / np.sqrt(d), spec.n_head)
        matrix(f"blk.{i}.attn_k.weight", kv, d, 2.0 / np.sqrt(d), spec.n_head_kv)
        matrix(f"blk.{i}.attn_v.weight", kv, d, 1.0 / np.sqrt(d))
        matrix(f"blk.{i}.attn_output.weight", d, d, 1.0 / np.sqrt(d))
        gain(f"blk.{i}.ffn_norm.weight", d)
        matrix(f"blk.{i}.ffn_gate.weight", spec.d_ff, d, 1.0 / np.sqrt(d))
        matrix(f"blk.{i}.ffn_up.weight", spec.d_ff, d, 1.0 / np.sqrt(d))
        matrix(f"blk.{i}.ffn_down.weight", d, spec.d_ff, 1.0 / np.sqrt(spec.d_ff))
    gain("output_norm.weight", d)
    if not spec.tied:
        matrix("output.weight", vocab, d, 1.0 / np.sqrt(d))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)


def spec_of(path) -> Tiny:
    """The sizes of any Llama GGUF file, read with gguf's reader (not nntutor's)."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def get(key):
        return reader.fields[key].contents()

    names = {t.name for t in reader.tensors}
    return Tiny(n_layer=get("llama.block_count"), d_model=get("llama.embedding_length"),
                n_head=get("llama.attention.head_count"), n_head_kv=get("llama.attention.head_count_kv"),
                d_ff=get("llama.feed_forward_length"), context=get("llama.context_length"),
                rope_base=get("llama.rope.freq_base"), eps=get("llama.attention.layer_norm_rms_epsilon"),
                tied="output.weight" not in names)


def hf_state_dict(path, spec: Tiny, torch, dtype, raw: dict | None = None) -> dict:
    """The file's weights (dequantised by gguf) as a LlamaForCausalLM state dict, Q/K un-permuted.

    ``raw`` (name -> array in GGUF layout) is used instead of a file when given.
    """
    if raw is None:
        import gguf

        reader = gguf.GGUFReader(str(path))
        raw = {t.name: np.asarray(gguf.dequantize(t.data, t.tensor_type), dtype=np.float64) for t in reader.tensors}

    def t(a):
        return torch.tensor(a, dtype=dtype)

    sd = {"model.embed_tokens.weight": t(raw["token_embd.weight"]), "model.norm.weight": t(raw["output_norm.weight"])}
    sd["lm_head.weight"] = t(raw["token_embd.weight"] if spec.tied else raw["output.weight"])
    for i in range(spec.n_layer):
        b, p = f"blk.{i}.", f"model.layers.{i}."
        sd |= {
            p + "input_layernorm.weight": t(raw[b + "attn_norm.weight"]),
            p + "self_attn.q_proj.weight": t(unpermute(raw[b + "attn_q.weight"], spec.n_head)),
            p + "self_attn.k_proj.weight": t(unpermute(raw[b + "attn_k.weight"], spec.n_head_kv)),
            p + "self_attn.v_proj.weight": t(raw[b + "attn_v.weight"]),
            p + "self_attn.o_proj.weight": t(raw[b + "attn_output.weight"]),
            p + "post_attention_layernorm.weight": t(raw[b + "ffn_norm.weight"]),
            p + "mlp.gate_proj.weight": t(raw[b + "ffn_gate.weight"]),
            p + "mlp.up_proj.weight": t(raw[b + "ffn_up.weight"]),
            p + "mlp.down_proj.weight": t(raw[b + "ffn_down.weight"]),
        }
    return sd


def hf_model(path, spec: Tiny, torch, dtype, attention: str = "sdpa", raw: dict | None = None, vocab: int | None = None):
    """transformers' LlamaForCausalLM (CPU) holding the file's weights.

    ``attention="sdpa"`` (PyTorch's scaled_dot_product_attention) keeps float64 throughout;
    ``"eager"`` can return the attention weights but takes its softmax in float32.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab or len(vocabulary()[0]), hidden_size=spec.d_model, intermediate_size=spec.d_ff,
        num_hidden_layers=spec.n_layer, num_attention_heads=spec.n_head, num_key_value_heads=spec.n_head_kv,
        max_position_embeddings=spec.context, rms_norm_eps=spec.eps, tie_word_embeddings=spec.tied,
        rope_parameters={"rope_type": "default", "rope_theta": spec.rope_base}, head_dim=spec.d_model // spec.n_head,
        attn_implementation=attention,
    )
    model = LlamaForCausalLM(config).to(dtype)
    missing, unexpected = model.load_state_dict(hf_state_dict(path, spec, torch, dtype, raw), strict=not spec.tied)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    if spec.tied:
        model.tie_weights()
    if dtype == torch.float64:
        _rope_in_float64(model.model.rotary_emb, spec, torch)
        for module in model.modules():
            if type(module).__name__ == "LlamaRMSNorm":
                _rms_norm_in_float64(module, torch)
    return model.eval()


def _rms_norm_in_float64(norm, torch) -> None:
    """transformers' LlamaRMSNorm casts to float32 inside, whatever the model's dtype; for the
    float64 comparison the same formula, x·rsqrt(mean(x²) + ε)·g, runs in float64."""
    eps = norm.variance_epsilon

    def forward(h):
        return norm.weight * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps))

    norm.forward = forward


def _rope_in_float64(rotary, spec: Tiny, torch) -> None:
    """transformers computes RoPE's angles in float32 whatever the model's dtype (about 1e-7
    off); for the float64 comparison its cos/sin are computed in float64 instead, with its
    own layout (the angles repeated for the two halves, as its rotate_half expects)."""
    hd = spec.d_model // spec.n_head
    inv_freq = 1.0 / spec.rope_base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)

    def forward(x, position_ids):
        freqs = position_ids[..., None].to(torch.float64) * inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)

    rotary.forward = forward
