"""Tiny models of the base-model families a user may pick, built from configs (never downloaded).

Each family gets its published chat template (tests/data/families/<family>.jinja) and special tokens
(tests/data/families/tokens.json), added to SmolLM2's real vocabulary, and a tiny random model (hidden 64,
2 layers) with the family's own distinguishing config options: tied or separate embeddings, Qwen2's attention
bias, Qwen3's q/k norms, Gemma's scaled embeddings, soft-capping and query_pre_attn_scalar, sliding windows
(Mistral, Gemma 2/3, Phi-3), Phi-3's fused qkv_proj/gate_up_proj, GPT-NeoX's fused query_key_value and
parallel residual (and no chat template at all).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "families"
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=512)


@dataclass(frozen=True)
class Family:
    name: str
    model: str  # the transformers class, e.g. "Gemma3ForCausalLM"
    config: str  # its config class
    options: dict  # the family's distinguishing settings, beside TINY
    system_role: str  # what studio.chat_format.system_role should find: native, joined or none
    lora_names: tuple[str, ...]  # linear layers the adapter must reach (fused ones where the family fuses)

    @property
    def tokens(self) -> dict:
        return json.loads((DATA / "tokens.json").read_text(encoding="utf-8"))[self.name]

    @property
    def template(self) -> str | None:
        path = DATA / f"{self.name}.jinja"
        return path.read_text(encoding="utf-8") if path.is_file() else None


GQA = dict(num_key_value_heads=2, head_dim=16)
FAMILIES = [
    Family("llama3", "LlamaForCausalLM", "LlamaConfig", dict(GQA, tie_word_embeddings=True, rope_theta=500000.0),
           "native", ("q_proj", "o_proj", "gate_proj", "down_proj")),
    Family("qwen2", "Qwen2ForCausalLM", "Qwen2Config", dict(GQA, tie_word_embeddings=True, use_sliding_window=False),
           "native", ("q_proj", "k_proj", "v_proj", "up_proj")),  # q/k/v carry a bias in Qwen2
    Family("qwen3", "Qwen3ForCausalLM", "Qwen3Config", dict(GQA, tie_word_embeddings=True, attention_bias=False),
           "native", ("q_proj", "o_proj", "down_proj")),
    Family("gemma2", "Gemma2ForCausalLM", "Gemma2Config",
           dict(GQA, tie_word_embeddings=True, final_logit_softcapping=30.0, attn_logit_softcapping=50.0,
                query_pre_attn_scalar=32, sliding_window=24, layer_types=["sliding_attention", "full_attention"],
                hidden_activation="gelu_pytorch_tanh", attn_implementation="eager"),
           "none", ("q_proj", "o_proj", "down_proj")),
    Family("gemma3", "Gemma3ForCausalLM", "Gemma3TextConfig",
           dict(GQA, tie_word_embeddings=True, query_pre_attn_scalar=32, sliding_window=512,
                layer_types=["sliding_attention", "full_attention"], rope_local_base_freq=10000.0),
           "joined", ("q_proj", "o_proj", "down_proj")),
    Family("mistral", "MistralForCausalLM", "MistralConfig", dict(GQA, tie_word_embeddings=False, sliding_window=24),
           "none", ("q_proj", "v_proj", "down_proj")),
    Family("phi3", "Phi3ForCausalLM", "Phi3Config", dict(num_key_value_heads=4, tie_word_embeddings=False, sliding_window=2047),
           "native", ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")),
    Family("gptneox", "GPTNeoXForCausalLM", "GPTNeoXConfig",
           dict(tie_word_embeddings=False, rotary_pct=0.25, use_parallel_residual=True),
           "native", ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h")),  # the fallback template has a system role
]
BY_NAME = {f.name: f for f in FAMILIES}


def family_tokenizer(family: Family, smollm2_dir: Path):
    """SmolLM2's tokenizer with the family's special tokens, its bos/eos/pad/unk and its chat template (or none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    tokens = family.tokens
    tokenizer.add_special_tokens({"additional_special_tokens": tokens["special"]}, replace_extra_special_tokens=True)
    if tokens["plain"]:
        tokenizer.add_tokens(tokens["plain"])
    for role in ("bos", "eos", "pad", "unk"):
        setattr(tokenizer, f"{role}_token", tokens[f"{role}_token"])
    tokenizer.chat_template = family.template
    return tokenizer


def build_family(family: Family, smollm2_dir: Path, folder: Path, seed: int = 0) -> Path:
    """Save a tiny random `family` model with its tokenizer into `folder`; return the folder."""
    import torch
    import transformers
    from transformers import GenerationConfig

    tokenizer = family_tokenizer(family, smollm2_dir)
    ids = {role: tokenizer.convert_tokens_to_ids(t) if (t := family.tokens[f"{role}_token"]) else None
           for role in ("bos", "eos", "pad")}
    ends = [tokenizer.convert_tokens_to_ids(t) for t in family.tokens["turn_ends"]]
    options = dict(family.options)
    attention = options.pop("attn_implementation", None)
    config = getattr(transformers, family.config)(
        vocab_size=len(tokenizer), **TINY, **options,
        bos_token_id=ids["bos"], eos_token_id=ends if len(ends) > 1 else ends[0], pad_token_id=ids["pad"])
    if attention:
        config._attn_implementation = attention
    torch.manual_seed(seed)
    model = getattr(transformers, family.model)(config)
    model.generation_config = GenerationConfig(bos_token_id=ids["bos"], eos_token_id=ends, pad_token_id=ids["pad"])
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
