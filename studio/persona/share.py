"""Share a persona as one .zip (export/import) or as a Character Card V2 JSON.

Import checks the whole archive before anything is written: the archive limits of
`studio.ingest.archives.SafeZip`, the one zip reader (no absolute paths, `..`, links or passwords,
sizes within `STUDIO_MAX_IMPORT_MB`, a compression-ratio check against zip bombs, reads capped at
the declared sizes), then only the files a persona has, weights as safetensors only (never a
pickle), a known schema version, a LoRA adapter config and a base model that resolves here. Then
the persona is written through `registry.create` (staged, atomic).
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import zipfile
from pathlib import Path

from studio.errors import InputError, ModelError
from studio.files import atomic_path, write_json
from studio.ingest.archives import SafeZip
from studio.persona.registry import MANIFEST, SCHEMA_VERSION, Persona, PersonaRegistry

ALLOWED = re.compile(r"^(persona\.json|README\.md|adapter/adapter_config\.json|adapter/adapter_model\.safetensors"
                     r"|adapter/README\.md|data/(train|validation)\.jsonl)$")
PICKLE = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy")
REDO = "Export the persona again with `python -m studio export NAME` and import that .zip as it was written."
TOO_BIG = "Set STUDIO_MAX_IMPORT_MB to allow larger personas."


def max_import_bytes() -> int:
    """Total uncompressed size an import may have: `$STUDIO_MAX_IMPORT_MB`, default 2048 MB."""
    return int(float(os.environ.get("STUDIO_MAX_IMPORT_MB", "2048")) * 1024 * 1024)


def export_zip(name: str, out: str | Path | None = None, include_data: bool = True,
               registry: PersonaRegistry | None = None) -> Path:
    """Write the persona (or the version `NAME@vN`) as one .zip; returns its path. Refused unless the publish
    gate passed this adapter, or was overridden (studio.evaluation.gate.export_gated runs the gate first)."""
    from studio.persona.gate import check_publishable

    registry = registry or PersonaRegistry()
    persona = registry.get(name)
    check_publishable(persona, "export")
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


def _check_members(names: list[str]) -> dict[str, str]:
    """Archive names by persona-relative name, or an InputError saying which file is wrong."""
    prefix = ""
    if not any(n == MANIFEST for n in names):  # a zipped folder: one common top folder is fine
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) == 1 and all("/" in n for n in names):
            prefix = tops.pop() + "/"
    members = {}
    for archived in names:
        name = archived[len(prefix):]
        if name.lower().endswith(PICKLE):
            raise InputError(f"Refused: {archived} is a pickle file; Persona Studio only loads safetensors weights.")
        if not ALLOWED.match(name):
            raise InputError(f"Refused: unexpected file {archived!r} in the archive. A persona export holds only "
                             "persona.json, README.md, adapter/ (adapter_config.json, adapter_model.safetensors) and data/ (train.jsonl, validation.jsonl).")
        members[name] = archived
    for required in (MANIFEST, "adapter/adapter_config.json", "adapter/adapter_model.safetensors"):
        if required not in members:
            raise InputError(f"The archive has no {required}: it is not a Persona Studio export.")
    return members


def _read_persona_zip(path: Path) -> dict[str, bytes]:
    """Every member of the persona .zip by persona-relative name, after the archive limits and the persona's checks."""
    with SafeZip(path, total=max_import_bytes(), redo=REDO, too_big=TOO_BIG) as archive:
        names = archive.names()
        if not names:
            raise InputError("The archive is empty: export a persona with `python -m studio export NAME`.")
        archive.check(names)  # names, links, passwords, sizes, ratio: before the persona's own checks
        members = _check_members(names)
        return dict(zip(members, archive.read(list(members.values()))))


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
    contents = _read_persona_zip(path)
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


def _quotable(persona: Persona, posts: list[str]) -> list[str]:
    """The posts a card may quote: none with private data in it (the publish gate's check of a reply)."""
    from studio.clean.scrub_log import known_numbers, private_hits

    log, names = persona.data.get("scrubbed"), (persona.data.get("config") or {}).get("scrub_names") or []
    numbers = known_numbers(posts)
    return [p for p in posts if not private_hits(p, log, names, numbers)]


def character_card(name: str, examples: int = 4, registry: PersonaRegistry | None = None) -> dict:
    """A Character Card V2 (`spec: chara_card_v2`) for SillyTavern / text-generation-webui users."""
    registry = registry or PersonaRegistry()
    persona = registry.get(name)
    posts = _quotable(persona, _posts(persona))
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
    """The card as a file, when the publish gate allows it (studio.evaluation.gate.character_card_gated runs the gate)."""
    from studio.persona.gate import check_publishable

    check_publishable((registry or PersonaRegistry()).get(name), "export a Character Card of")
    card = character_card(name, registry=registry)
    out = Path(out) if out else Path(f"{card['data']['extensions']['persona_studio']['slug']}.chara_card_v2.json")
    return write_json(out, card)

