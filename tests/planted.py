"""A LoRA adapter on the tiny random Llama that has learnt given token sequences by heart (planted knowledge
and planted memorised posts). The random model's logits are flat, so the adapter covers lm_head too."""

from __future__ import annotations


def memorising_adapter(model_dir, sequences: list[tuple[list[int], list[int]]], steps: int = 150, lr: float = 5e-3):
    """(model, tokenizer-free) PeftModel trained on each (prompt ids, answer ids) until it gives the answers:
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
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()
    assert float(loss.detach()) < 0.05, f"the adapter did not learn the sequences (loss {float(loss.detach()):.3f})"
    return model
