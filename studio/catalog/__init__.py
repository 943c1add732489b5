"""The base models a persona can start from, and what each costs here: the Train tab's picker and
`python -m studio models`. Sources: the bundled SmolLM2-135M-Instruct, local model folders (a path the user gives,
and every folder under `$STUDIO_MODELS_DIR`), models in the Hugging Face cache (`HF_HUB_CACHE`), and a Hub id the
user types (read from the cache; offline, one not cached is refused with what to do). Nothing here loads weights:
parameters are counted on the model built from its config on the meta device.
The memory estimate and its formula: studio/catalog/memory.py.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.catalog.memory import Fit, Machine, Workload, estimate, machine, model_shape
from studio.config import BUNDLED
from studio.errors import ModelError
from studio.models import BUNDLED_ID, HUB_ID, bundled_gguf
from studio.persona.card import base_license
from studio.persona.hub import endpoint

WEIGHTS = ("*.safetensors",)
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


@dataclass
class Entry:
    """One base model as the picker shows it; `spec` is what training takes (studio.models.resolve_base)."""

    spec: str
    source: str  # bundled | folder | hf-cache | hub
    model_id: str
    path: Path | None = None
    architecture: str = "unknown"
    params: int | None = None
    disk_bytes: int | None = None
    licence: str = "unknown"
    chat_template: bool = False
    note: str = ""
    fits: list[Fit] = field(default_factory=list)

    @property
    def label(self) -> str:
        names = {"bundled": "bundled", "folder": "folder", "hf-cache": "HF cache", "hub": "Hub"}
        return f"{names[self.source]}: {self.model_id if self.source != 'folder' else self.path}"

    def summary(self) -> str:  # parameters, size on disk, licence, chat template
        params = f"{self.params / 1e6:,.0f}M parameters" if self.params else "parameters unknown"
        disk = f"{self.disk_bytes / 1e6:,.0f} MB on disk" if self.disk_bytes is not None else "not on disk"
        template = "chat template" if self.chat_template else "no chat template (the studio's plain fallback)"
        return f"{self.model_id} ({self.architecture}): {params}, {disk}, licence {self.licence}, {template}"


# What a config says --------------------------------------------------------------------------------------

def has_chat_template(folder: Path) -> bool:
    if any((folder / name).is_file() for name in TEMPLATE_FILES):
        return True
    tokenizer_config = folder / "tokenizer_config.json"
    return tokenizer_config.is_file() and bool(json.loads(tokenizer_config.read_text("utf-8")).get("chat_template"))


def disk_size(folder: Path) -> int:
    """Bytes of the folder's files (a Hugging Face snapshot's links followed to their blobs)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def licence_of(config: dict, model_id: str, folder: Path | None) -> str:
    """The config's `license`, else the model card's (README.md front matter) or one the studio knows, else unknown."""
    if config.get("license"):
        return str(config["license"])
    found = base_license({"id": model_id, "spec": str(folder) if folder else ""})
    return found if found != "other" else "unknown"


def check_folder(folder: Path) -> None:
    """A model folder the studio can train on, or a ModelError saying what is missing."""
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such folder. Give the path of a model folder saved with save_pretrained, "
                         f"or pick '{BUNDLED}'.")
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: not a model folder (no config.json). Give a folder saved with save_pretrained "
                         f"(config.json + *.safetensors), or pick '{BUNDLED}'.")
    if not any(any(folder.glob(pattern)) for pattern in WEIGHTS):
        raise ModelError(f"{folder}: has a config.json but no *.safetensors weights (pickle files such as "
                         "pytorch_model.bin are never loaded). Save the model with safetensors, or pick another.")


def from_folder(folder: Path, spec: str, source: str, model_id: str | None = None, work: Workload | None = None,
                here: Machine | None = None, measure: bool = True) -> Entry:
    """An entry for a model folder (a local one, or a Hugging Face cache snapshot); `measure=False` reads only
    its name (the dropdown's label)."""
    from transformers import AutoConfig

    check_folder(folder)
    raw = json.loads((folder / "config.json").read_text("utf-8"))
    model_id = model_id or raw.get("_name_or_path") or folder.name
    entry = Entry(spec=spec, source=source, model_id=model_id, path=folder)
    if not measure:
        return entry
    entry.disk_bytes, entry.licence = disk_size(folder), licence_of(raw, model_id, folder)
    entry.chat_template = has_chat_template(folder)
    entry.architecture = ",".join(raw.get("architectures") or [raw.get("model_type", "unknown")])
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    except (ValueError, KeyError, OSError) as exc:  # an architecture this transformers does not know (custom code)
        entry.note = f"parameter count unknown: transformers cannot build this architecture ({exc})"
        return entry
    return measured(entry, config, work, here)


def measured(entry: Entry, config, work: Workload | None, here: Machine | None) -> Entry:
    """The entry with its parameter count and memory estimates from its config."""
    shape = model_shape(config, work or Workload())
    entry.params = shape.params
    entry.fits = estimate(shape, work or Workload(), here or machine())
    return entry


# Where models come from ----------------------------------------------------------------------------------

def bundled_entry(work: Workload | None = None, here: Machine | None = None, measure: bool = True) -> Entry:
    """The bundled model, read from its GGUF file's metadata (about 3 s; it is not converted for this)."""
    gguf = bundled_gguf()
    entry = Entry(spec=BUNDLED, source="bundled", model_id=BUNDLED_ID, path=gguf, architecture="LlamaForCausalLM",
                  disk_bytes=gguf.stat().st_size, chat_template=True)
    if not measure:
        return entry
    fields = gguf_fields(gguf)
    entry.licence = fields.get("general.license") or base_license({"id": BUNDLED_ID})
    entry.chat_template = bool(fields.get("tokenizer.chat_template"))
    measured(entry, bundled_config(fields), work, here)
    entry.note = (f"a {gguf.stat().st_size / 1e6:.0f} MB GGUF, converted once into a {entry.params * 4 / 1e6:,.0f} MB "
                  "fp32 folder in the studio's cache at first use (about 25 s)")
    return entry


@functools.lru_cache(maxsize=4)
def gguf_fields(gguf: Path) -> dict:
    """The GGUF's scalar metadata (names, sizes, licence, chat template), not its tensors or token lists; read once
    a process (about 3 s)."""
    from gguf import GGUFReader

    fields = {}
    for name, found in GGUFReader(gguf).fields.items():
        if not name.startswith("tokenizer.ggml"):  # token lists: large, not needed
            fields[name] = found.contents()
    return fields


def bundled_config(fields: dict):
    """A LlamaConfig from the bundled GGUF's metadata (transformers' own GGUF reader takes ~16 s)."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=fields["llama.vocab_size"], hidden_size=fields["llama.embedding_length"],
                       intermediate_size=fields["llama.feed_forward_length"], num_hidden_layers=fields["llama.block_count"],
                       num_attention_heads=fields["llama.attention.head_count"],
                       num_key_value_heads=fields["llama.attention.head_count_kv"], tie_word_embeddings=True)


def models_dir_folders() -> list[Path]:
    """Model folders under `$STUDIO_MODELS_DIR` (the folder itself when it is one), those with a config.json."""
    root = os.environ.get("STUDIO_MODELS_DIR")
    if not root:
        return []
    root_path = Path(root).expanduser()
    found = [root_path] if (root_path / "config.json").is_file() else []
    if root_path.is_dir():
        found += sorted(p for p in root_path.iterdir() if p.is_dir() and (p / "config.json").is_file())
    return found


def hub_cache() -> Path:
    """The Hugging Face cache as the environment names it now (`HF_HUB_CACHE`, else `HF_HOME`/hub)."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def cached_models() -> tuple[dict[str, Path], list[str]]:
    """Models in the Hugging Face cache with a config.json and safetensors weights ({repo id: snapshot folder}),
    and why any other cached model repo was left out."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(hub_cache())
    except CacheNotFound:
        return {}, []
    found, skipped = {}, [f"unreadable cache entry: {warning}" for warning in info.warnings]
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        revisions = sorted(repo.revisions, key=lambda r: ("main" in r.refs, r.last_modified), reverse=True)
        usable = [r for r in revisions if {"config.json"} <= {f.file_name for f in r.files}
                  and any(f.file_name.endswith(".safetensors") for f in r.files)]
        if usable:
            found[repo.repo_id] = usable[0].snapshot_path
        else:
            skipped.append(f"{repo.repo_id}: no config.json with *.safetensors weights in the cache")
    return found, skipped


def from_hub_id(repo_id: str, work: Workload | None = None, here: Machine | None = None, measure: bool = True) -> Entry:
    """A Hub id: what the cache holds of it; not cached, its config from the Hub, or a clear refusal offline."""
    snapshots, _ = cached_models()
    if repo_id in snapshots:
        return from_folder(snapshots[repo_id], repo_id, "hf-cache", repo_id, work, here, measure)
    alternatives = f"pick '{BUNDLED}', a local model folder, or a model already in the cache ({hub_cache()})"
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}:
        raise ModelError(f"{repo_id}: not in the Hugging Face cache and the Hub cannot be reached (offline). Download it "
                         f"first where there is network (`hf download {repo_id}`), then pick it here; or {alternatives}.")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        config_path = Path(hf_hub_download(repo_id, "config.json", endpoint=endpoint()))
    except RepositoryNotFoundError as exc:
        raise ModelError(f"{repo_id}: not found on the Hub, private or gated (log in with HF_TOKEN); or {alternatives}.") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(f"{repo_id}: cannot reach the Hub (network needed to read it) and it is not cached; "
                         f"{alternatives}.") from exc
    try:  # the model card, for the licence; a repo may have none
        hf_hub_download(repo_id, "README.md", endpoint=endpoint())
    except (HfHubHTTPError, OSError, ValueError):
        pass
    entry = Entry(spec=repo_id, source="hub", model_id=repo_id, note=f"not downloaded yet: training first downloads "
                  f"{remote_weights(repo_id)} of safetensors weights (network needed)")
    entry.licence = licence_of(json.loads(config_path.read_text("utf-8")), repo_id, config_path.parent)
    if measure:
        from transformers import AutoConfig

        measured(entry, AutoConfig.from_pretrained(config_path.parent, trust_remote_code=False), work, here)
    return entry


def remote_weights(repo_id: str) -> str:
    """The size of a Hub repo's safetensors files, as the Hub lists them ('an unknown size' when it does not)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    try:
        files = list(HfApi(endpoint=endpoint()).list_repo_tree(repo_id))
    except (HfHubHTTPError, OSError, ValueError):
        return "an unknown size"
    sizes = [f.size for f in files if f.path.endswith(".safetensors") and getattr(f, "size", None)]
    return f"{sum(sizes) / 1e6:,.0f} MB" if sizes else "an unknown size"


def describe(spec: str | None, work: Workload | None = None, here: Machine | None = None) -> Entry:
    """Everything the picker shows about one base-model spec ('bundled', a folder path or a Hub id), or a
    ModelError that says what is wrong and what to do."""
    from studio.config import default_base

    spec = (spec or "").strip() or default_base()
    if spec == BUNDLED:
        return bundled_entry(work, here)
    local = Path(spec).expanduser()
    if local.exists() or spec.startswith((".", "/", "~")) or not HUB_ID.match(spec):
        if not local.exists() and not spec.startswith((".", "/", "~")):
            raise ModelError(f"{spec!r} is neither a model folder here nor a Hub id like 'owner/name'. "
                             f"Pick '{BUNDLED}', give a folder's path, or type a Hub id.")
        return from_folder(local.resolve(), str(local.resolve()), "folder", None, work, here)
    return from_hub_id(spec, work, here)


def entries(paths: list[str] | tuple = ()) -> tuple[list[Entry], list[str]]:
    """The dropdown's models, cheaply (no config built, nothing measured): the bundled model, the given folders,
    `$STUDIO_MODELS_DIR`'s folders, the Hugging Face cache's models; and why any was left out."""
    found, problems = [], []
    try:
        found.append(bundled_entry(measure=False))
    except ModelError as exc:
        problems.append(str(exc))
    folders = [Path(p).expanduser().resolve() for p in paths] + [p.resolve() for p in models_dir_folders()]
    for folder in dict.fromkeys(folders):
        try:
            found.append(from_folder(folder, str(folder), "folder", measure=False))
        except ModelError as exc:
            problems.append(str(exc))
    snapshots, skipped = cached_models()
    found += [Entry(spec=repo_id, source="hf-cache", model_id=repo_id, path=path) for repo_id, path in snapshots.items()]
    return found, problems + skipped
