"""Chat: one base model in memory, every persona's adapter loaded once onto it, streaming replies.

A reply for the base model runs with the adapters switched off (PEFT's `adapter_names=["__base__"]`);
a persona's reply runs with its adapter named per call, so no shared "active adapter" state is
flipped between requests and switching persona costs nothing after the first load.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from studio.config import GenerationConfig, default_base
from studio.dataset import chat_messages, ensure_chat_template
from studio.errors import PersonaError
from studio.models import load_model, load_tokenizer, resolve_base
from studio.registry import Persona, PersonaRegistry

BASE = "base"
BASE_LABEL = "Base model"
DEFAULT_BASE_PROMPT = "You are a helpful assistant. Answer briefly."


class ChatEngine:
    def __init__(self, base_spec: str | None = None):
        self.ref = resolve_base(base_spec or default_base())
        self.tokenizer = load_tokenizer(self.ref)
        ensure_chat_template(self.tokenizer)
        self.model = load_model(self.ref, four_bit=False)
        self._adapters: dict[str, str] = {}  # persona slug -> adapter name (changes when retrained)
        self._lock = threading.Lock()  # one generation at a time: PEFT's per-call adapter hooks are not thread safe

    def _check_base(self, persona: Persona) -> None:
        theirs = (persona.base_model.get("id"), persona.base_model.get("revision"))
        if theirs != (self.ref.id, self.ref.revision):
            raise PersonaError(
                f"Persona {persona.slug!r} was trained on {theirs[0]} ({theirs[1] or 'local'}), "
                f"but this chat runs {self.ref.id}. Chat with it on its own base model."
            )

    def _adapter_for(self, persona: Persona) -> str:
        """Load the persona's adapter once (again only if it was retrained); return its name."""
        from peft import PeftModel

        self._check_base(persona)
        weights = persona.adapter_dir / "adapter_model.safetensors"
        stamp = f"{weights.stat().st_mtime_ns}-{weights.stat().st_size}" if weights.is_file() else persona.updated_at
        name = f"{persona.slug}-{hashlib.sha1(stamp.encode()).hexdigest()[:8]}"  # new weights -> new name
        old = self._adapters.get(persona.slug)
        if old == name:
            return name
        if not (persona.adapter_dir / "adapter_config.json").is_file():
            raise PersonaError(f"Persona {persona.slug!r} has no adapter in {persona.adapter_dir}. Train it again.")
        if isinstance(self.model, PeftModel):
            self.model.load_adapter(str(persona.adapter_dir), adapter_name=name)
        else:
            self.model = PeftModel.from_pretrained(self.model, str(persona.adapter_dir), adapter_name=name)
        if old is not None:
            self.model.delete_adapter(old)
        self._adapters[persona.slug] = name
        self.model.eval()
        return name

    def stream(
        self,
        persona: Persona | None,
        message: str,
        system_prompt: str | None = None,
        history: list[tuple[str, str]] | None = None,
        settings: GenerationConfig | None = None,
    ) -> Iterator[str]:
        """Yield the reply so far, token by token. `persona=None` is the base model."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        settings = settings or GenerationConfig()
        if system_prompt is None or not system_prompt.strip():
            system_prompt = persona.system_prompt if persona else DEFAULT_BASE_PROMPT
        messages = chat_messages(system_prompt, message, history)
        stop = threading.Event()

        class StopOnRequest(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return stop.is_set()

        with self._lock:
            adapter = self._adapter_for(persona) if persona else None
            inputs = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            ).to(self.model.device)
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300)
            kwargs = dict(
                **inputs, streamer=streamer, max_new_tokens=settings.max_new_tokens,
                do_sample=settings.temperature > 0, repetition_penalty=settings.repetition_penalty,
                pad_token_id=self.tokenizer.pad_token_id, stopping_criteria=StoppingCriteriaList([StopOnRequest()]),
            )
            if settings.temperature > 0:
                kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
            if self._adapters:  # a PeftModel: name the adapter for this call ("__base__": none)
                kwargs["adapter_names"] = [adapter or "__base__"]
            # a fresh process always starts from the same RNG state: without a seed, draw a new one
            torch.manual_seed(settings.seed) if settings.seed is not None else torch.seed()
            failure: list[BaseException] = []

            def run():
                try:
                    self.model.generate(**kwargs)
                except BaseException as exc:  # surfaced in the caller's thread below
                    failure.append(exc)
                    streamer.end()

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            text = ""
            try:
                for piece in streamer:
                    text += piece
                    yield text
            finally:
                stop.set()
                thread.join()
            if failure:
                raise failure[0]
            if text.endswith("\ufffd"):  # max_new_tokens cut a multi-byte character in half
                yield text.rstrip("\ufffd")


_engines: dict[str, ChatEngine] = {}
_engines_lock = threading.Lock()


def get_engine(base_spec: str | None = None) -> ChatEngine:
    """The shared engine for a base model: loaded once per process, reused by every pane and user."""
    spec = base_spec or default_base()
    with _engines_lock:
        if spec not in _engines:
            _engines[spec] = ChatEngine(spec)
        return _engines[spec]


def resolve_target(target: str, registry: PersonaRegistry | None = None) -> tuple[ChatEngine, Persona | None]:
    """'base' (or 'Base model') -> the default base model; anything else -> a persona on its own base."""
    if target.strip().lower() in (BASE, BASE_LABEL.lower()):
        return get_engine(), None
    persona = (registry or PersonaRegistry()).get(target)
    return get_engine(persona.base_model.get("spec")), persona


@dataclass
class Reply:
    target: str
    text: str
    seconds: float

    def to_json(self) -> dict:
        return {"target": self.target, "reply": self.text, "seconds": round(self.seconds, 3)}


def reply(target: str, message: str, system_prompt: str | None = None, settings: GenerationConfig | None = None,
          registry: PersonaRegistry | None = None) -> Reply:
    """One whole reply (the CLI's `chat`)."""
    if not message.strip():
        raise PersonaError("The message is empty: type something to send.")
    engine, persona = resolve_target(target, registry)
    started = time.perf_counter()
    text = ""
    for text in engine.stream(persona, message, system_prompt, settings=settings):
        pass
    return Reply(target=persona.slug if persona else BASE, text=text, seconds=time.perf_counter() - started)
