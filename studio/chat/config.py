"""Decoding settings of one chat pane (also what the evaluation decodes with)."""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.config import Settings, check


@dataclass
class GenerationConfig(Settings):
    """Decoding settings of one chat pane. The defaults keep a small model from looping ("今日は〜〜〜〜〜"):
    a repetition penalty on every token already in the conversation, no 4-gram twice, and sampling from
    the top 50 tokens / top 90 % probability at temperature 0.8."""

    max_new_tokens: int = field(default=80, metadata={"help": "Longest reply, in tokens."})
    temperature: float = field(default=0.8, metadata={"help": "Randomness; 0 means greedy decoding."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling: keep the smallest token set with this much probability."})
    top_k: int = field(default=50, metadata={"help": "Sample only among the k most likely tokens; 0 = no limit."})
    repetition_penalty: float = field(default=1.15, metadata={"help": "Above 1 discourages repeating tokens (stops '〜〜〜〜' loops)."})
    no_repeat_ngram_size: int = field(default=4, metadata={"help": "Never repeat a run of this many tokens; 0 = off. Lower (3) stops loops harder."})
    greedy: bool = field(default=False, metadata={"help": "Always take the most likely token (no sampling, seed ignored)."})
    seed: int | None = field(default=None, metadata={"help": "Fix it for reproducible sampling; empty for a new reply each time."})
    memory: bool = field(default=False, metadata={"help": "Memory: put the person's posts most relevant to the message into the prompt (BM25 over their cleaned posts; personas only)."})
    memory_k: int = field(default=3, metadata={"help": "How many of their posts memory puts into the prompt."})

    def __post_init__(self):
        for name in ("greedy", "memory"):
            if isinstance(getattr(self, name), str):
                setattr(self, name, getattr(self, name).strip().lower() in ("1", "true", "yes", "on"))
        check(0 <= int(self.memory_k) <= 20, f"memory_k must be between 0 and 20, got {self.memory_k}.")
        self.memory, self.memory_k = bool(self.memory), int(self.memory_k)
        check(1 <= int(self.max_new_tokens) <= 4096, f"max_new_tokens must be between 1 and 4096, got {self.max_new_tokens}.")
        check(0 <= float(self.temperature) <= 5, f"temperature must be between 0 and 5, got {self.temperature}.")
        check(0 < float(self.top_p) <= 1, f"top_p must be in (0, 1], got {self.top_p}.")
        check(0 <= int(self.top_k) <= 100_000, f"top_k must be between 0 (no limit) and 100000, got {self.top_k}.")
        check(1 <= float(self.repetition_penalty) <= 3, f"repetition_penalty must be between 1 and 3, got {self.repetition_penalty}.")
        check(0 <= int(self.no_repeat_ngram_size) <= 20, f"no_repeat_ngram_size must be between 0 (off) and 20, got {self.no_repeat_ngram_size}.")
        self.max_new_tokens, self.top_k, self.no_repeat_ngram_size = int(self.max_new_tokens), int(self.top_k), int(self.no_repeat_ngram_size)
        self.temperature, self.top_p = float(self.temperature), float(self.top_p)
        self.repetition_penalty, self.greedy = float(self.repetition_penalty), bool(self.greedy)
        self.seed = None if self.seed in (None, "") else int(float(self.seed))

    @property
    def sampling(self) -> bool:
        return not self.greedy and self.temperature > 0
