"""Chat: one base model in memory, every persona's adapter loaded once onto it, streaming replies.

A reply for the base model runs with the adapters switched off (PEFT's `adapter_names=["__base__"]`);
a persona's reply runs with its adapter named per call, so no shared "active adapter" state is
flipped between requests and switching persona costs nothing after the first load.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from studio.chat.config import GenerationConfig
from studio.config import default_base, env_count
from studio.chat.memory import with_memory
from studio.chat.generate import BASE_ADAPTER, Prompt, end_ids, generate_rows, pad_id
from studio.chat_format import chat_messages, ensure_chat_template
from studio.errors import PersonaError
from studio.models import load_model, load_tokenizer, resolve_base
from studio.persona.registry import Persona
from studio.chat.threads import CoreShare, run_apart, set_threads

BASE = "base"
BASE_LABEL = "Base model"
DEFAULT_BASE_PROMPT = "You are a helpful assistant. Answer briefly."


def new_seed() -> int:
    return random.SystemRandom().randrange(2**31)


@dataclass
class Row:
    """One pane's turn: who answers, the whole conversation as chat messages, its settings and seed."""

    persona: Persona | None
    messages: list[dict]
    settings: GenerationConfig = field(default_factory=GenerationConfig)
    seed: int | None = None  # None: a fresh random seed

    def __post_init__(self):
        self.seed = new_seed() if self.seed is None else int(self.seed)

    @classmethod
    def make(cls, persona, message, system_prompt=None, history=None, settings=None) -> "Row":
        settings = settings or GenerationConfig()
        if system_prompt is None or not system_prompt.strip():
            system_prompt = persona.system_prompt if persona else DEFAULT_BASE_PROMPT
        if settings.memory:
            system_prompt = with_memory(system_prompt, persona, message, settings.memory_k)
        seed = settings.seed if settings.seed is not None else new_seed()
        return cls(persona, chat_messages(system_prompt, message, history), settings, seed)


SKINNY_ROWS = 16
MAX_BATCH_ROWS = 20  # default cap: rows (panes of all waiting calls) in one generate; env STUDIO_CHAT_BATCH_ROWS


def batch_settings() -> tuple[int, bool]:
    """(row cap of one batch, whether calls of different callers share a batch) from the environment:
    `STUDIO_CHAT_BATCH_ROWS` (default 20) and `STUDIO_CHAT_SHARE_BATCHES` (default 1; 0 = one call a batch)."""
    return env_count("STUDIO_CHAT_BATCH_ROWS", MAX_BATCH_ROWS), os.environ.get("STUDIO_CHAT_SHARE_BATCHES", "1").strip() != "0"


@dataclass
class _Job:
    """One caller's rows waiting for a batch; texts (or an error, then None at the end) come back on `out`."""

    rows: list
    out: queue.Queue
    stops: list[threading.Event]
    session: object = None  # who asked (a browser session); None: a caller of its own


class FairQueue:
    """Calls waiting for a batch, one line per session, served round-robin: the next batch takes the first
    call of every waiting session in turn (the one served longest ago first), then their second calls, up to
    `max_rows` rows, so one user with many panes or many calls cannot starve the others. The first call taken
    always goes, whatever its size (a call is never split); with `share` off a batch is that one call."""

    def __init__(self):
        self._lines: dict[object, list] = {}  # insertion order = turn order
        self._ready = threading.Condition()

    def put(self, job: _Job) -> None:
        with self._ready:
            self._lines.setdefault(job.session if job.session is not None else object(), []).append(job)
            self._ready.notify()

    def __len__(self) -> int:
        with self._ready:
            return sum(map(len, self._lines.values()))

    def take(self, max_rows: int, share: bool = True, timeout: float | None = None) -> list[_Job]:
        """The next batch (waits for a first call; [] after `timeout` seconds without one)."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._lines, timeout):
                return []
            batch, rows, added = [], 0, True
            while added and self._lines:
                added = False
                for session in list(self._lines):
                    line = self._lines[session]
                    if batch and (not share or rows + len(line[0].rows) > max_rows):
                        continue
                    batch.append(line.pop(0))
                    rows, added = rows + len(batch[-1].rows), True
                    del self._lines[session]  # served: to the back of the turn order
                    if line:
                        self._lines[session] = line
                    if not share:
                        return batch
            return batch


def skinny_linears(model) -> int:
    """Decode steps multiply a few rows (one per pane) by each weight. On CPU, `F.linear` then picks a
    kernel that gets slower per row than one row alone (measured: 3 rows 2-4x the time of 1); `W @ x.T`
    streams the weight once for all rows. Patch every plain Linear to take that path for <= SKINNY_ROWS rows."""
    import torch
    from torch.nn import functional as F

    if next(model.parameters()).device.type != "cpu" or os.environ.get("STUDIO_SKINNY_LINEAR", "1") == "0":
        return 0
    count = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:
            def forward(x, m=module):
                if x.dim() >= 2 and x.numel() <= SKINNY_ROWS * x.shape[-1]:
                    out = (m.weight @ x.reshape(-1, x.shape[-1]).T).T.reshape(*x.shape[:-1], m.out_features)
                    return out if m.bias is None else out + m.bias
                return F.linear(x, m.weight, m.bias)
            module.forward = forward
            count += 1
    return count


class ChatEngine:
    """`fused_lora`: compute the batch's LoRA deltas with studio.chat.fused_lora (default; env STUDIO_FUSED_LORA=0
    turns it off) instead of PEFT's per-layer forward with `adapter_names`. Both give the same replies."""

    def __init__(self, base_spec: str | None = None, fused_lora: bool | None = None):
        self.ref = resolve_base(base_spec or default_base())
        self.tokenizer = load_tokenizer(self.ref)
        ensure_chat_template(self.tokenizer)
        self.model = load_model(self.ref, four_bit=False)
        skinny_linears(self.model)
        if fused_lora is None:
            fused_lora = os.environ.get("STUDIO_FUSED_LORA", "1") != "0"
        self.fused_lora, self._fused = fused_lora, None
        self._adapters: dict[str, str] = {}  # persona slug -> adapter name (changes when retrained)
        self._lock = threading.Lock()  # one generation at a time: PEFT's per-call adapter hooks are not thread safe
        self._pending = FairQueue()  # calls waiting for the next batch (see stream_batch)
        self.max_rows, self.share_batches = batch_settings()
        self._worker: threading.Thread | None = None
        self._worker_guard = threading.Lock()
        self.cores = CoreShare()  # how many threads a batch gets: fewer while other processes keep cores busy
        self.pad_id, self.end_ids = pad_id(self.tokenizer), end_ids(self.model, self.tokenizer)

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
        if self.fused_lora:
            from studio.chat.fused_lora import FusedLoRA

            self._fused = FusedLoRA(self.model)  # adapters changed: new stacks (and maybe new layers)
        return name

    @contextlib.contextmanager
    def exclusive(self, persona: Persona):
        """(model, tokenizer, adapter name) with `persona`'s adapter loaded, for work beside chat (the
        evaluation); no chat batch runs until the block ends, so the adapters cannot change under it."""
        with self._lock:
            adapter = self._adapter_for(persona)  # first: loading the first adapter wraps self.model in a PeftModel
            yield self.model, self.tokenizer, adapter

    def warm(self, persona: Persona) -> None:
        """Load `persona`'s adapter now (between batches), so its first message does not wait for it."""
        with self._lock:
            self._adapter_for(persona)

    def stream_batch(self, rows: list[Row], stop: threading.Event | None = None, session=None) -> Iterator[list[str]]:
        """Answer every row with ONE batched `generate`; yield all rows' texts so far after each step.

        Rows are left-padded; each is routed to its adapter ("__base__": the bare model) and keeps its own
        sampling settings, seed and token limit (see studio.chat.generate). Calls that arrive while a batch runs
        wait, then share the next batch (`max_rows` rows at most; sessions served in turn, see FairQueue):
        concurrent users cost one generate. `session`: who asks (e.g. the browser session), for that fairness."""
        job = _Job(rows, queue.Queue(), [e for e in (stop, threading.Event()) if e], session)
        with self._worker_guard:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, daemon=True, name="chat-batches")
                self._worker.start()
        self._pending.put(job)
        try:
            while True:
                item = job.out.get(timeout=900)
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.stops[-1].set()  # the caller stopped reading: its rows stop, the others go on

    def _work(self) -> None:
        while True:
            jobs = self._pending.take(self.max_rows, self.share_batches)
            try:
                set_threads(self.cores.threads())  # in this worker thread: its OpenMP team
                self._run(jobs)
            except BaseException as exc:  # surfaced in each caller's thread
                for job in jobs:
                    job.out.put(exc)
            finally:
                for job in jobs:
                    job.out.put(None)

    def _run(self, jobs: list[_Job]) -> None:
        import torch

        with self._lock:  # the adapters in use cannot change while this batch runs
            ready, names = [], []
            for job in jobs:  # a persona that fails to load fails its own call only
                try:
                    names += [self._adapter_for(r.persona) if r.persona else BASE_ADAPTER for r in job.rows]
                    ready.append(job)
                except Exception as exc:
                    job.out.put(exc)
            if not ready:
                return
            rows = [r for job in ready for r in job.rows]
            offsets = [0]
            for job in ready:
                offsets.append(offsets[-1] + len(job.rows))

            def dispatch(texts: list[str]) -> None:
                for job, a, b in zip(ready, offsets, offsets[1:]):
                    job.out.put(texts[a:b])

            prompts = [Prompt(r.messages, r.settings, r.seed, name) for r, name in zip(rows, names)]
            with torch.inference_mode():
                generate_rows(self.model, self.tokenizer, prompts, route=self._route,
                              stops=[job.stops for job in ready for _ in job.rows], on_step=dispatch)

    def _route(self, names: list[str], kwargs: dict):
        """Send each row to its adapter; called under the lock. Fused LoRA (default): stacked deltas per row.
        Otherwise PEFT: one adapter for the whole batch becomes the active one (its plain, faster path);
        all base: adapters off; a mix: PEFT's per-row `adapter_names`."""
        from peft import PeftModel

        if not isinstance(self.model, PeftModel):
            return contextlib.nullcontext()
        if self._fused is not None and self._fused.supported(names):
            return self._fused_route(names)
        if set(names) == {BASE_ADAPTER}:
            return self.model.disable_adapter()
        if len(set(names)) == 1:
            self.model.base_model.set_adapter(names[0])
            return contextlib.nullcontext()
        kwargs["adapter_names"] = names
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _fused_route(self, names: list[str]):
        self._fused.route(names)
        try:
            yield
        finally:
            self._fused.clear()

    def stream(
        self,
        persona: Persona | None,
        message: str,
        system_prompt: str | None = None,
        history: list[tuple[str, str]] | None = None,
        settings: GenerationConfig | None = None,
    ) -> Iterator[str]:
        """Yield one reply so far, token by token. `persona=None` is the base model."""
        row = Row.make(persona, message, system_prompt, history, settings)
        for texts in self.stream_batch([row]):
            yield texts[0]


_engines: dict[str, ChatEngine] = {}
_engines_lock = threading.Lock()


def engine_loaded(base_spec: str | None = None) -> bool:
    """Whether the engine for this base model is in memory already (no wait for a load); never blocks."""
    return (base_spec or default_base()) in _engines


def get_engine(base_spec: str | None = None) -> ChatEngine:
    """The shared engine for a base model: loaded once per process, reused by every pane and user."""
    spec = base_spec or default_base()
    with _engines_lock:
        if spec not in _engines:
            _engines[spec] = run_apart(ChatEngine, spec)  # see studio.chat.threads
        return _engines[spec]
