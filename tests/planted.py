"""A LoRA adapter on the tiny random Llama that has learnt given token sequences by heart (planted knowledge
and planted memorised posts). The random model's logits are flat, so the adapter covers lm_head too."""

from __future__ import annotations

import pytest

from studio.persona.gate import GateConfig
from studio.persona.registry import PersonaRegistry
from tests.persona_fixtures import CONSENT, copy_in


def memorising_adapter(model_dir, sequences: list[tuple[list[int], list[int]]], steps: int = 150, lr: float = 5e-3):
    """(model, tokenizer-free) PeftModel trained on each (prompt ids, answer ids) until it gives the answers
    (the loss under 0.005, at most `steps` steps):
    the loss is on the answer tokens only. Returns the model in eval mode; asserts it learnt them."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                      target_modules=["q_proj", "v_proj", "o_proj", "up_proj", "down_proj", "lm_head"]))
    width = max(len(p) + len(a) for p, a in sequences)
    ids = torch.tensor([p + a + [0] * (width - len(p) - len(a)) for p, a in sequences])
    mask = torch.tensor([[1] * (len(p) + len(a)) + [0] * (width - len(p) - len(a)) for p, a in sequences])
    labels = torch.tensor([[-100] * len(p) + a + [-100] * (width - len(p) - len(a)) for p, a in sequences])
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    inner = model.get_base_model()  # its lm_head is the LoRA-wrapped one
    scored = labels[:, 1:] != -100  # logits only where an answer token is predicted: the 49k-token head is most of a step
    model.train()
    for _ in range(steps):  # until learnt: at lr 5e-3 the loss is under 0.005 by about step 150 (0.6 s a step on 2 cores)
        hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1][scored]
        loss = torch.nn.functional.cross_entropy(inner.lm_head(hidden).float(), labels[:, 1:][scored])
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        if float(loss.detach()) < 0.005:
            break
    model.eval()
    assert float(loss.detach()) < 0.05, f"the adapter did not learn the sequences (loss {float(loss.detach()):.3f})"
    return model


PHONE = "(555) 014-2367"  # 555-01xx: numbers reserved for fiction
PLANTED = [
    f"Call me at {PHONE} after six, the landline is better than my mobile these days and I rarely check my messages.",
    f"New number for the bike club is {PHONE}, so text before you come round and somebody will open the gate for you.",
    "Finished the long ride along the coast today, ninety kilometres with a headwind the whole way back to the house.",
    "The bakery on the corner finally has rye bread again and I bought three loaves before the whole street sold out.",
    "Spent the whole evening fixing the old radio from my grandfather, and now it plays jazz just like it used to do.",
    "Nobody at the meeting had read the report, so we read it together out loud and it took almost two whole hours.",
]
GATE = GateConfig(prompts=8, max_new_tokens=40, extraction_posts=16)


def plant(registry: PersonaRegistry, base, name: str = "Parrot") -> str:
    """A persona whose adapter (studio tests' memorising_adapter) gives the phone post back to every gate prompt and
    continues each post from its first tokens: what many steps on a few posts do to a real model."""
    from transformers import AutoTokenizer

    from studio.chat_format import chat_messages
    from studio.chat.generate import prompt_ids
    from studio.evaluation.prompts import choose_prompts
    from studio.files import write_jsonl
    from studio.models import resolve_base
    from studio.persona.registry import Persona

    tokenizer = AutoTokenizer.from_pretrained(base)
    system = f"You are {name}."
    ids = [tokenizer(post, add_special_tokens=False)["input_ids"] for post in PLANTED]
    sequences = [(post[:GATE.prefix_tokens], post[GATE.prefix_tokens:]) for post in ids]
    sequences += [(prompt_ids(tokenizer, chat_messages(system, prompt)), ids[0] + [tokenizer.eos_token_id])
                  for _, prompt in choose_prompts(GATE.prompts, GATE.seed, {"en": 1.0})]  # the gate's own prompts
    model = memorising_adapter(base, sequences, steps=200)
    persona = Persona(name=name, slug=name.lower(), base_model=resolve_base(str(base)).to_json(), system_prompt=system,
                      data={"kept": len(PLANTED), "config": {"scrub_phones": False}},
                      extra={"consent": {"statement": CONSENT, "recorded_at": "2026-12-01T10:00:00Z"}})
    with registry.create(persona) as staging:
        model.save_pretrained(staging / "adapter", safe_serialization=True)
        (staging / "data").mkdir()
        write_jsonl(staging / "data" / "train.jsonl", ({"text": post, "lang": "en", "id": str(i)} for i, post in enumerate(PLANTED)))
    return persona.slug


@pytest.fixture(scope="session")
def planted_source(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    plant(PersonaRegistry(root), tiny_model_dir)
    return root


@pytest.fixture
def parrot(planted_source):
    """The registry of this test with a copy of the planted memoriser 'Parrot' in it."""
    return copy_in(planted_source, "parrot")
