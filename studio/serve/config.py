"""Settings of `python -m studio serve`: where the server listens, what it serves, how vLLM runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.config import Settings, check

ENGINES = ("vllm",)


@dataclass
class ServeConfig(Settings):
    host: str = field(default="127.0.0.1", metadata={"help": "Address to listen on; 0.0.0.0 serves other machines too (no authentication: keep it on a trusted network)."})
    port: int = field(default=8000, metadata={"help": "Port of the OpenAI-compatible API (http://HOST:PORT/v1)."})
    personas: list = field(default_factory=list, metadata={"help": "Serve only these personas (and their versions); none = every persona on the base model."})
    engine: str = field(default="vllm", metadata={"help": "The serving engine: vllm (CPU build here, the CUDA wheel on a GPU machine)."})
    max_loras: int = field(default=4, metadata={"help": "Adapters one batch can mix (vLLM --max-loras); more costs memory per slot."})
    max_lora_rank: int = field(default=0, metadata={"help": "Largest adapter rank the server accepts; 0 = from the adapters (at least 16)."})
    max_model_len: int = field(default=2048, metadata={"help": "Longest prompt + reply in tokens (the KV cache is sized for it)."})
    kv_cache_gb: int = field(default=1, metadata={"help": "KV cache on a CPU, in GB (VLLM_CPU_KVCACHE_SPACE); a GPU uses a share of its memory instead."})
    threads: str = field(default="", metadata={"help": "CPU cores vLLM binds its threads to, e.g. 0-1; empty = every core of this machine."})
    poll_seconds: float = field(default=2.0, metadata={"help": "How often the registry is checked for personas trained, pulled, restored or deleted."})

    def __post_init__(self):
        self._coerce()
        self.personas = [str(p) for p in self.personas or []]
        check(self.engine in ENGINES, f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}.")
        check(1 <= self.port <= 65535, f"port must be between 1 and 65535, got {self.port}.")
        check(1 <= self.max_loras <= 64, f"max_loras must be between 1 and 64, got {self.max_loras}.")
        check(0 <= self.max_lora_rank <= 512, f"max_lora_rank must be between 0 (from the adapters) and 512, got {self.max_lora_rank}.")
        check(64 <= self.max_model_len <= 131072, f"max_model_len must be between 64 and 131072, got {self.max_model_len}.")
        check(1 <= self.kv_cache_gb <= 512, f"kv_cache_gb must be between 1 and 512, got {self.kv_cache_gb}.")
        check(0.2 <= self.poll_seconds <= 600, f"poll_seconds must be between 0.2 and 600, got {self.poll_seconds}.")
        check(all(c in "0123456789-,|" for c in self.threads), f"threads is a core list like 0-1 or 0,2, got {self.threads!r}.")
