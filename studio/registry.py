"""The persona registry: one folder per persona under `personas/`, complete or absent.

    personas/<slug>/persona.json   manifest (schema_version, name, base model, prompt, data, training, metrics)
    personas/<slug>/adapter/       PEFT save_pretrained (safetensors)
    personas/<slug>/data/          train.jsonl: the cleaned posts

A persona is built in a hidden staging folder and moved into place with `os.replace`, so a
crash or a cancelled run never leaves a half-written persona where the app would list it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from studio import __version__
from studio.config import personas_dir
from studio.errors import PersonaError

SCHEMA_VERSION = 1
MANIFEST = "persona.json"
RESERVED = {"base", "con", "nul", "prn", "aux"}
MAX_NAME = 64


def slugify(name: str) -> str:
    """A folder name from a persona name: lower case, letters (any script), digits, '-' and '_'.

    Names that try to be paths (`../x`, `a/b`) or come out empty are refused, never rewritten.
    """
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not name:
        raise PersonaError("The persona name is empty: give it a name such as 'koume'.")
    if "/" in name or "\\" in name or name.startswith("."):
        raise PersonaError(f"Invalid persona name {name!r}: no '/', '\\' or leading '.'. Use letters, digits, '-' or '_'.")
    slug = re.sub(r"[^\w-]+", "-", name.lower()).strip("-_")[:MAX_NAME].strip("-_")
    if not slug:
        raise PersonaError(f"Invalid persona name {name!r}: it needs at least one letter or digit.")
    if slug in RESERVED:
        raise PersonaError(f"'{slug}' is reserved (it names the base model in chat). Choose another persona name.")
    return slug


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Persona:
    """A persona's manifest. Keys this version does not know are kept in `extra` and written back."""

    name: str
    slug: str
    base_model: dict = field(default_factory=dict)
    system_prompt: str = ""
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    studio_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("extra", "path")}
        return {**self.extra, **data}

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "Persona":
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise PersonaError(f"{path / MANIFEST}: not a persona manifest (no 'name').")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "path"}
        fields = {k: v for k, v in data.items() if k in known}
        fields.setdefault("slug", path.name)
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**fields, extra=extra, path=path)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temporary file beside `path`, then `os.replace` it: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class PersonaRegistry:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else personas_dir()

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"))

    def list(self) -> list[Persona]:
        """Complete personas, sorted by name. Broken folders are skipped; see `problems()`."""
        return [p for p in self._scan() if isinstance(p, Persona)]

    def problems(self) -> list[str]:
        """Folders that look like personas but cannot be read, with the reason."""
        return [p for p in self._scan() if isinstance(p, str)]

    def _scan(self):
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            if not (folder / MANIFEST).is_file():
                continue
            try:
                found.append(self._read(folder))
            except PersonaError as exc:
                found.append(str(exc))
        return sorted(found, key=lambda p: p.name.lower() if isinstance(p, Persona) else "")

    def _read(self, folder: Path) -> Persona:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PersonaError(f"{folder / MANIFEST}: unreadable ({exc}). Delete or re-train this persona.") from exc
        return Persona.from_json(data, folder)

    def exists(self, name: str) -> bool:
        return (self.root / slugify(name) / MANIFEST).is_file()

    def get(self, name: str) -> Persona:
        slug = slugify(name)
        folder = self.root / slug
        if not (folder / MANIFEST).is_file():
            known = ", ".join(p.slug for p in self.list()) or "none yet"
            raise PersonaError(
                f"No persona named {name!r} in {self.root} (known: {known}). "
                f"Train one with: python -m studio train --posts FILE --name {slug}"
            )
        return self._read(folder)

    @contextlib.contextmanager
    def create(self, persona: Persona, overwrite: bool = False):
        """Yield a staging folder to fill; on success write the manifest and move it into place."""
        target = self.root / persona.slug
        if target.exists() and not overwrite:
            raise PersonaError(f"A persona named {persona.slug!r} already exists. Choose another name, or overwrite it.")
        staging = self.root / f".staging-{persona.slug}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            yield staging
            persona.updated_at = now()
            write_json_atomic(staging / MANIFEST, persona.to_json())
            with self._lock():
                old = None
                if target.exists():
                    if not overwrite:
                        raise PersonaError(f"A persona named {persona.slug!r} appeared while training. Choose another name.")
                    old = self.root / f".old-{persona.slug}-{uuid.uuid4().hex[:8]}"
                    os.replace(target, old)
                os.replace(staging, target)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            persona.path = target
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def update(self, name: str, **fields) -> Persona:
        """Change manifest fields of a persona (e.g. `metrics=...`, `evaluation=...`), atomically, under the lock.

        Known fields are set on the Persona; any other key goes to `extra` (kept in persona.json)."""
        with self._lock():
            persona = self.get(name)
            known = {f.name for f in dataclasses.fields(Persona)} - {"extra", "path", "slug", "name"}
            for key, value in fields.items():
                if key in known:
                    setattr(persona, key, value)
                else:
                    persona.extra[key] = value
            persona.updated_at = now()
            write_json_atomic(persona.path / MANIFEST, persona.to_json())
        return persona

    def delete(self, name: str) -> None:
        persona = self.get(name)
        with self._lock():
            trash = self.root / f".deleted-{persona.slug}-{uuid.uuid4().hex[:8]}"
            os.replace(persona.path, trash)
            shutil.rmtree(trash, ignore_errors=True)
