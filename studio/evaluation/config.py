"""Persona evaluation settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.config import Settings, check


@dataclass
class EvalConfig(Settings):
    """Persona evaluation settings (studio.evaluation.run). The defaults keep it within about a minute on the bundled model."""

    prompts: int = field(default=16, metadata={"help": "Prompts answered by the base model and the persona for the style and copying checks (in the languages of their posts, by share: studio/evaluation/prompts.py)."})
    max_new_tokens: int = field(default=64, metadata={"help": "Longest generated reply, in tokens (Japanese takes about 1.7 tokens per character)."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature of the replies; 0 = greedy. The knowledge probe is always greedy."})
    seed: int = field(default=0, metadata={"help": "Seed for the prompt choice and sampling: the same seed gives the same figures."})
    loss_posts: int = field(default=64, metadata={"help": "Held-out posts scored for loss and perplexity (a seeded sample; each costs a forward pass with and without the adapter); 0 = all."})
    reference_posts: int = field(default=200, metadata={"help": "Real held-out posts the replies are compared with; 0 = all."})
    probe: bool = field(default=True, metadata={"help": "Ask the built-in general-knowledge probe (base model against persona)."})
    memory: bool = field(default=False, metadata={"help": "Chat-time memory on for the replies and the persona's facts (their most relevant posts in the prompt), to compare with it off."})
    memory_k: int = field(default=3, metadata={"help": "Posts memory puts into the prompt (with --memory)."})
    extraction_posts: int = field(default=32, metadata={"help": "Training posts whose first 8/16/32 tokens are given to see if the model continues them word for word (a seeded sample); 0 = skip."})
    batch_size: int = field(default=16, metadata={"help": "Prompts per generation batch (base and persona rows run together)."})

    def __post_init__(self):
        self._coerce()
        check(2 <= self.prompts <= 200, f"prompts must be between 2 and 200, got {self.prompts}.")
        check(4 <= self.max_new_tokens <= 512, f"max_new_tokens must be between 4 and 512, got {self.max_new_tokens}.")
        check(0 <= self.temperature <= 5, f"temperature must be between 0 and 5, got {self.temperature}.")
        check(0 <= self.loss_posts <= 100_000, f"loss_posts must be between 0 (all) and 100000, got {self.loss_posts}.")
        check(0 <= self.reference_posts <= 100_000, f"reference_posts must be between 0 (all) and 100000, got {self.reference_posts}.")
        check(0 <= self.memory_k <= 20, f"memory_k must be between 0 and 20, got {self.memory_k}.")
        check(0 <= self.extraction_posts <= 10_000, f"extraction_posts must be between 0 (skip) and 10000, got {self.extraction_posts}.")
        check(1 <= self.batch_size <= 256, f"batch_size must be between 1 and 256, got {self.batch_size}.")
