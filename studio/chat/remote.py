"""Chat on an OpenAI-compatible multi-LoRA server (vLLM's `python -m studio serve`, SGLang, LoRAX): a drop-in for
the local ChatEngine's `stream_batch`. Each row is one streaming request (`/chat/completions`, SSE), all rows sent
at once; the server batches them with everyone else's. The model name is the persona's slug (`NAME@vN` for a
version), `base` for the bare model: what `studio serve` registers.

The engine setting: "local" (the in-process engine) or the server's base URL such as http://127.0.0.1:8000/v1;
its default comes from $STUDIO_CHAT_ENGINE.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterator

import httpx

from studio.chat.config import GenerationConfig
from studio.errors import ConfigError, ModelError, PersonaError

LOCAL = "local"
BASE_MODEL = "base"
TIMEOUT = httpx.Timeout(600.0, connect=5.0)  # a reply may queue behind many others; a dead server fails fast


def engine_setting(value: str | None = None) -> str:
    """'local' or a server's base URL (ending in /v1): the value given, else $STUDIO_CHAT_ENGINE, else 'local'."""
    value = (value if value not in (None, "") else os.environ.get("STUDIO_CHAT_ENGINE", LOCAL)).strip()
    if value.lower() in (LOCAL, ""):
        return LOCAL
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"Engine {value!r}: use 'local' or an OpenAI-compatible server's URL such as "
                          "http://127.0.0.1:8000/v1 (start one with: python -m studio serve).")
    value = value.rstrip("/")
    return value if value.endswith("/v1") else value + "/v1"


def unhonoured(settings: GenerationConfig) -> list[str]:
    """The pane's settings this kind of server cannot apply (the OpenAI API has no n-gram ban)."""
    return [f"no-repeat n-gram size {settings.no_repeat_ngram_size}"] if settings.no_repeat_ngram_size else []


def request_body(model: str, row, stream: bool = True) -> dict:
    """The chat-completions request for one row (vLLM's extra sampling fields: top_k, repetition_penalty)."""
    s: GenerationConfig = row.settings
    body = {"model": model, "messages": row.messages, "stream": stream, "max_tokens": s.max_new_tokens,
            "repetition_penalty": s.repetition_penalty}
    if s.sampling:
        body.update(temperature=s.temperature, top_p=s.top_p, seed=row.seed, **({"top_k": s.top_k} if s.top_k else {}))
    else:
        body["temperature"] = 0.0  # greedy
    return body


class RemoteEngine:
    """The same `stream_batch(rows, stop)` as ChatEngine, answered by a server. `tokenizer` is None: the server
    applies the chat template of the model it serves."""

    tokenizer = None
    remote = True

    def __init__(self, url: str):
        self.url = engine_setting(url)
        self.client = httpx.Client(timeout=TIMEOUT, limits=httpx.Limits(max_connections=64))

    @staticmethod
    def model_name(persona) -> str:
        return persona.slug if persona is not None else BASE_MODEL

    def models(self) -> list[str]:
        """The model names the server serves (GET /models)."""
        try:
            response = self.client.get(f"{self.url}/models", timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise self._down(exc) from exc
        return [m["id"] for m in response.json().get("data", [])]

    def warm(self, persona) -> None:
        """Nothing to load here: the server holds the adapters."""

    def stream_batch(self, rows: list, stop: threading.Event | None = None, session=None) -> Iterator[list[str]]:
        """Send every row as its own streaming request, all at once; yield all rows' texts so far after each piece."""
        texts, updates = [""] * len(rows), queue.Queue()
        halt = threading.Event()
        workers = [threading.Thread(target=self._one, args=(i, row, updates, (stop, halt)), daemon=True,
                                    name=f"remote-row-{i}") for i, row in enumerate(rows)]
        for worker in workers:
            worker.start()
        running, failure = len(rows), None
        try:
            while running:
                i, item = updates.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    running, failure = running - 1, failure or item
                    halt.set()  # one row failed: the call fails, the others stop
                else:
                    texts[i] = item
                    yield list(texts)
            if failure is not None:
                raise failure
        finally:
            halt.set()

    def _one(self, i: int, row, updates: queue.Queue, stops) -> None:
        model, text = self.model_name(row.persona), ""
        try:
            with self.client.stream("POST", f"{self.url}/chat/completions", json=request_body(model, row)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._refused(model, response)
                for line in response.iter_lines():
                    if any(e is not None and e.is_set() for e in stops):
                        break
                    if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                        continue
                    chunk = json.loads(line[5:])
                    if "error" in chunk:
                        raise ModelError(f"The chat server at {self.url} failed on {model!r}: {chunk['error']}")
                    piece = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content") or ""
                    if piece:
                        text += piece
                        updates.put((i, text))
        except httpx.HTTPError as exc:
            updates.put((i, self._down(exc)))
        except Exception as exc:
            updates.put((i, exc))
        finally:
            updates.put((i, None))

    def _down(self, exc: Exception) -> ModelError:
        return ModelError(f"The chat server at {self.url} does not answer ({type(exc).__name__}: {exc}). Start it with "
                          "`python -m studio serve`, or set the Chat tab's engine to 'local'.")

    def _refused(self, model: str, response: httpx.Response) -> Exception:
        detail = response.text[:300]
        if response.status_code == 404 or "does not exist" in detail:
            try:
                served = ", ".join(self.models())
            except ModelError:
                served = "?"
            return PersonaError(f"The chat server at {self.url} does not serve {model!r} (it serves: {served}). A persona "
                                "trained just now appears within seconds; one on another base model needs its own server.")
        return ModelError(f"The chat server at {self.url} refused the request for {model!r}: "
                          f"HTTP {response.status_code} {detail}")


_remotes: dict[str, RemoteEngine] = {}
_remotes_lock = threading.Lock()


def get_remote(url: str) -> RemoteEngine:
    """One client per server URL, shared by every pane and user."""
    url = engine_setting(url)
    with _remotes_lock:
        if url not in _remotes:
            _remotes[url] = RemoteEngine(url)
        return _remotes[url]
