"""Share a persona as one .zip (export/import) or as a Character Card V2 JSON.

Import checks the whole archive before anything is written: only the files a persona has,
weights as safetensors only (never a pickle), size limits and a compression-ratio check (zip
bombs), no absolute paths, `..` or links, a known schema version, a LoRA adapter config and a base
model that resolves here. Then the persona is written through `registry.create` (staged, atomic).
"""

from __future__ import annotations

import json
import os
import random
import re
import stat
import struct
import zipfile
from pathlib import Path, PurePosixPath

from studio.errors import InputError, ModelError
from studio.files import atomic_path, write_json
from studio.persona.registry import MANIFEST, SCHEMA_VERSION, Persona, PersonaRegistry

ALLOWED = re.compile(r"^(persona\.json|README\.md|adapter/adapter_config\.json|adapter/adapter_model\.safetensors"
                     r"|adapter/README\.md|data/(train|validation)\.jsonl)$")
PICKLE = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy")
MAX_RATIO = 100  # uncompressed/compressed above this (on files over 1 MB) is a zip bomb


def max_import_bytes() -> int:
    """Total uncompressed size an import may have: `$STUDIO_MAX_IMPORT_MB`, default 2048 MB."""
    return int(float(os.environ.get("STUDIO_MAX_IMPORT_MB", "2048")) * 1024 * 1024)


def export_zip(name: str, out: str | Path | None = None, include_data: bool = True,
               registry: PersonaRegistry | None = None) -> Path:
    """Write the persona (or the version `NAME@vN`) as one .zip; returns its path."""
    registry = registry or PersonaRegistry()
    persona = registry.get(name)
    out = Path(out) if out else Path(f"{persona.slug.replace('@', '-')}.zip")
    if out.is_dir() or out.suffix.lower() != ".zip":  # a folder (made if needed)
        out = out / f"{persona.slug.replace('@', '-')}.zip"
    files = [persona.path / MANIFEST, persona.path / "README.md", *sorted((persona.path / "adapter").glob("*"))]
    if include_data:
        files += sorted((persona.path / "data").glob("*.jsonl"))
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            arcname = file.relative_to(persona.path).as_posix()
            if file.is_file() and ALLOWED.match(arcname):
                archive.write(file, arcname)
    return out


def _check_members(archive: zipfile.ZipFile, limit: int) -> tuple[dict[str, zipfile.ZipInfo], str]:
    """The archive's members by persona-relative name, or an InputError saying which file is wrong."""
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if not infos:
        raise InputError("The archive is empty: export a persona with `python -m studio export NAME`.")
    names = [i.filename for i in infos]
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or "\\" in name or re.match(r"^[A-Za-z]:", name) or ".." in PurePosixPath(name).parts:
            raise InputError(f"Refused: the archive entry {name!r} points outside the persona folder (path traversal).")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(f"Refused: the archive entry {name!r} is a symbolic link.")
    prefix = ""
    if not any(n == MANIFEST for n in names):  # a zipped folder: one common top folder is fine
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) == 1 and all("/" in n for n in names):
            prefix = tops.pop() + "/"
    members, total = {}, 0
    for info in infos:
        name = info.filename[len(prefix):]
        if name.lower().endswith(PICKLE):
            raise InputError(f"Refused: {info.filename} is a pickle file; Persona Studio only loads safetensors weights.")
        if not ALLOWED.match(name):
            raise InputError(f"Refused: unexpected file {info.filename!r} in the archive. A persona export holds only "
                             "persona.json, README.md, adapter/ (adapter_config.json, adapter_model.safetensors) and data/ (train.jsonl, validation.jsonl).")
        total += info.file_size
        if total > limit:
            raise InputError(f"Refused: the archive unpacks to more than {limit // 2**20} MB "
                             "(set STUDIO_MAX_IMPORT_MB to allow larger personas).")
        if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InputError(f"Refused: {info.filename} expands {info.file_size // max(info.compress_size, 1)}-fold; "
                             "this looks like a zip bomb.")
        members[name] = info
    for required in (MANIFEST, "adapter/adapter_config.json", "adapter/adapter_model.safetensors"):
        if required not in members:
            raise InputError(f"The archive has no {required}: it is not a Persona Studio export.")
    return members, prefix


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read at most the declared size (+1 to notice a lie): a forged size cannot make us unpack more."""
    with archive.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise InputError(f"Refused: {info.filename} is larger than the archive says (a forged zip).")
    return data


def check_safetensors(data: bytes, what: str) -> dict:
    """Parse a safetensors header without loading tensors; an InputError when it is not one."""
    if len(data) < 8:
        raise InputError(f"{what} is not a safetensors file (too short).")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(len(data) - 8, 100 * 2**20):
        raise InputError(f"{what} is not a valid safetensors file (bad header length).")
    try:
        header = json.loads(data[8:8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} is not a valid safetensors file (unreadable header).") from exc
    if not isinstance(header, dict):
        raise InputError(f"{what} is not a valid safetensors file.")
    end = 8 + length
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        offsets = meta.get("data_offsets") if isinstance(meta, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1] <= len(data) - end):
            raise InputError(f"{what}: tensor {key!r} points outside the file (a corrupt or forged safetensors).")
    return header


def _json(data: bytes, what: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} is not valid JSON ({exc}).") from exc


def check_adapter_config(config, what: str) -> dict:
    if not isinstance(config, dict) or str(config.get("peft_type", "")).upper() != "LORA":
        raise InputError(f"{what}: not a LoRA adapter config (peft_type {config.get('peft_type') if isinstance(config, dict) else None!r}).")
    return config


def resolve_persona_base(base_model: dict, override: str | None = None):
    """The base model of an imported persona here: the override, its spec, else its id (a Hub id)."""
    from studio.models import resolve_base

    candidates = [override] if override else [base_model.get("spec"), base_model.get("id")]
    errors = []
    for spec in [c for c in candidates if c]:
        try:
            return resolve_base(spec)
        except ModelError as exc:
            errors.append(str(exc))
    raise ModelError(f"The persona's base model ({base_model.get('id') or base_model.get('spec') or 'not named'}) "
                     f"cannot be found here: {' / '.join(errors) or 'no base model in the manifest'}. "
                     "Point to a local copy with --base FOLDER (UI: 'base model').")


def import_zip(path: str | Path, name: str | None = None, base: str | None = None, overwrite: bool = False,
               registry: PersonaRegistry | None = None) -> Persona:
    """Validate the .zip completely, then write it into the registry as a new persona (or a new version)."""
    registry = registry or PersonaRegistry()
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path.name} is not a .zip file: export a persona with `python -m studio export NAME`.")
    with zipfile.ZipFile(path) as archive:
        members, _ = _check_members(archive, max_import_bytes())
        contents = {name_: _read_member(archive, info) for name_, info in members.items()}
    manifest = _json(contents[MANIFEST], MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("name"), str):
        raise InputError("persona.json has no persona name: not a Persona Studio export.")
    schema = manifest.get("schema_version", 1)
    if not isinstance(schema, int) or not 1 <= schema <= SCHEMA_VERSION:
        raise InputError(f"persona.json has schema_version {schema!r}; this studio reads 1 to {SCHEMA_VERSION}. "
                         "Update Persona Studio to import it.")
    check_adapter_config(_json(contents["adapter/adapter_config.json"], "adapter_config.json"), "adapter_config.json")
    check_safetensors(contents["adapter/adapter_model.safetensors"], "adapter_model.safetensors")
    for split in ("data/train.jsonl", "data/validation.jsonl"):
        if split in contents:
            try:
                [json.loads(line) for line in contents[split].decode("utf-8").splitlines() if line.strip()]
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"{split} is not JSON lines ({exc}).") from exc
    ref = resolve_persona_base(manifest.get("base_model") or {}, base)
    display = (name or manifest["name"]).strip()
    manifest.update(name=display, slug=registry.check_available(display, overwrite))
    if base:
        manifest["base_model"] = ref.to_json()
    for key in ("version", "last_version"):
        manifest.pop(key, None)
    persona = Persona.from_json(manifest, registry.root / manifest["slug"])
    persona.extra["imported_from"] = path.name
    with registry.create(persona, overwrite=overwrite) as staging:
        for member, data in contents.items():
            if member == MANIFEST:
                continue
            target = staging / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return registry.get(persona.slug)


# Character Card V2 -------------------------------------------------------------------------------

def _posts(persona: Persona) -> list[str]:
    path = persona.path / "data" / "train.jsonl"
    if not path.is_file():
        return []
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            texts.append(json.loads(line)["text"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return texts


def character_card(name: str, examples: int = 4, registry: PersonaRegistry | None = None) -> dict:
    """A Character Card V2 (`spec: chara_card_v2`) for SillyTavern / text-generation-webui users."""
    registry = registry or PersonaRegistry()
    persona = registry.get(name)
    posts = _posts(persona)
    sample = random.Random(0).sample(posts, min(examples, len(posts)))
    stats = persona.data.get("stats") or {}
    dates = stats.get("date_range") or ["?", "?"]
    langs = ", ".join(stats.get("languages") or {}) or "unknown"
    repo = (persona.extra.get("hub") or {}).get("repo")
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": persona.name,
            "description": f"{persona.name}, imitated from {persona.data.get('kept', '?')} of their posts "
                           f"({dates[0]} to {dates[1]}; languages: {langs}).",
            "personality": f"Writes like {persona.name}'s posts: same voice, length and language.",
            "scenario": "",
            "first_mes": sample[0] if sample else "",
            "mes_example": "\n".join(f"<START>\n{{{{user}}}}: What's on your mind?\n{{{{char}}}}: {text}" for text in sample),
            "creator_notes": (f"Made with Persona Studio {persona.studio_version} from {persona.data.get('kept', '?')} real posts "
                              f"(version v{persona.version}, trained {persona.created_at}) on {persona.base_model.get('id')}. "
                              "Imitates a real person's writing: do not present its output as that person's words."),
            "system_prompt": persona.system_prompt,
            "post_history_instructions": "",
            "alternate_greetings": sample[1:3],
            "tags": ["persona-studio", "lora"],
            "creator": "Persona Studio",
            "character_version": f"v{persona.version}",
            "extensions": {"persona_studio": {"adapter_repo": repo, "base_model": persona.base_model.get("id"),
                                              "version": persona.version, "slug": persona.base_slug}},
        },
    }


def write_character_card(name: str, out: str | Path | None = None, registry: PersonaRegistry | None = None) -> Path:
    card = character_card(name, registry=registry)
    out = Path(out) if out else Path(f"{card['data']['extensions']['persona_studio']['slug']}.chara_card_v2.json")
    return write_json(out, card)

