"""Persona Studio: turn someone's posts into a chatbot persona (LoRA adapters on a small base model)."""

import logging

__version__ = "0.1.0"

# bitsandbytes warns on every CPU import that it could not fetch an optional kernel from the Hub;
# the studio never uses 4-bit on CPU, so the warning is only noise.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
