"""The persona registry: one folder per persona under `personas/`, complete or absent.

    personas/<slug>/persona.json   manifest (schema_version, name, base model, prompt, data, training, metrics)
    personas/<slug>/adapter/       PEFT save_pretrained (safetensors)
    personas/<slug>/data/          train.jsonl: the cleaned posts
    personas/<slug>/README.md      model card
    personas/<slug>/versions/<n>/  earlier versions (same layout), kept when the persona is retrained

A version is addressed as `NAME@vN` everywhere (`registry.get("koume@v1")`, the CLI, chat): its
Persona's `path` points into the version folder, so code that reads `persona.adapter_dir` works unchanged.

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
from pathlib import Path

from filelock import FileLock

from studio import __version__
from studio.config import personas_dir
from studio.errors import PersonaError
from studio.files import utc_now, write_json

SCHEMA_VERSION = 1
MANIFEST = "persona.json"
RESERVED = {"base", "con", "nul", "prn", "aux"}
MAX_NAME = 64
VERSIONS = "versions"
VERSION_REF = re.compile(r"^(?P<name>.+)@v(?P<n>\d{1,6})$")


def parse_ref(ref: str) -> tuple[str, int | None]:
    """The one reader of `NAME@vN`: 'koume@v2' -> ('koume', 2); 'koume' -> ('koume', None)."""
    ref = (ref or "").strip()
    match = VERSION_REF.match(ref)
    return (match["name"], int(match["n"])) if match else (ref, None)


def version_ref(name: str, number: int) -> str:
    """The one writer of `NAME@vN`."""
    return f"{name}@v{number}"


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


@dataclass
class Persona:
    """A persona's manifest. Keys this version does not know are kept in `extra` and written back."""

    name: str
    slug: str
    base_model: dict = field(default_factory=dict)
    system_prompt: str = ""
    facts: list = field(default_factory=list)  # [{"question", "answers"}]: studio.persona.facts
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    created_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    studio_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def version(self) -> int:
        """This persona's version number (1 for a persona trained once; manifests before versions had none)."""
        value = self.extra.get("version", 1)
        return value if isinstance(value, int) and value >= 1 else 1

    @property
    def base_slug(self) -> str:
        """The persona's slug without any `@vN` (a version's slug is `koume@v1`)."""
        return parse_ref(self.slug)[0]

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


def _last_version(persona: Persona | None) -> int:
    if persona is None:
        return 1
    last = persona.extra.get("last_version")
    return max(persona.version, last if isinstance(last, int) else 0)


class PersonaRegistry:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else personas_dir()

    def lock(self) -> FileLock:
        """The registry's file lock: hold it to change anything in the registry (other processes wait)."""
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
            for number in self._version_numbers(folder):
                version = folder / VERSIONS / str(number)
                try:
                    self._read(version)
                except PersonaError as exc:
                    found.append(f"version v{number} of {folder.name}: {exc}")
        return sorted(found, key=lambda p: p.name.lower() if isinstance(p, Persona) else "")

    def _read(self, folder: Path) -> Persona:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PersonaError(f"{folder / MANIFEST}: unreadable ({exc}). Delete or re-train this persona.") from exc
        return Persona.from_json(data, folder)

    def exists(self, name: str) -> bool:
        return (self.root / slugify(name) / MANIFEST).is_file()

    def check_available(self, name: str, overwrite: bool = False) -> str:
        """The slug a new persona named `name` gets. Raises PersonaError when the name is invalid, or taken
        and `overwrite` is off: the one place that decides (under the lock), for every way a persona arrives
        (training, import, Hub pull). `create` checks again when the persona is moved into place."""
        slug = slugify(name)
        with self.lock():
            if not overwrite and (self.root / slug / MANIFEST).is_file():
                raise PersonaError(f"A persona named {slug!r} already exists. Choose another name, "
                                   "or replace it (--overwrite, or tick 'replace').")
        return slug

    def get(self, name: str) -> Persona:
        """A persona by name, or one of its versions by `NAME@vN` (the current one too)."""
        base, number = parse_ref(name)
        if number is not None:
            return self.get_version(base, number)
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
        """Yield a staging folder to fill; on success write the manifest and move it into place.

        With `overwrite`, the persona it replaces is kept as `versions/<n>/` (and addressable as `NAME@vN`)."""
        target = self.root / persona.slug
        if target.exists() and not overwrite:
            raise PersonaError(f"A persona named {persona.slug!r} already exists. Choose another name, or overwrite it.")
        staging = self.root / f".staging-{persona.slug}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            yield staging
            persona.updated_at = utc_now()
            with self.lock():
                if target.exists() and not overwrite:
                    raise PersonaError(f"A persona named {persona.slug!r} appeared while training. Choose another name.")
                if target.exists():
                    current = self._read_or_none(target)
                    if current is not None and not persona.facts:
                        persona.facts = list(current.facts)  # the user's facts outlive a retrain
                    number = self._next_version(target, current)
                    persona.extra["version"] = persona.extra["last_version"] = number
                    write_json(staging / MANIFEST, persona.to_json())
                    self._swap_in(staging, target, keep_as=current.version if current else number - 1)
                else:
                    persona.extra.setdefault("version", 1)
                    write_json(staging / MANIFEST, persona.to_json())
                    os.replace(staging, target)
            persona.path = target
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _read_or_none(self, folder: Path) -> Persona | None:
        try:
            return self._read(folder)
        except PersonaError:
            return None

    def _version_numbers(self, folder: Path) -> list[int]:
        versions = folder / VERSIONS
        if not versions.is_dir():
            return []
        return sorted(int(p.name) for p in versions.iterdir() if p.is_dir() and p.name.isdigit())

    def _next_version(self, folder: Path, current: Persona | None) -> int:
        """One above any number used so far (a deleted version's number is never given again)."""
        return max([_last_version(current), *self._version_numbers(folder)]) + 1

    def _swap_in(self, staging: Path, target: Path, keep_as: int) -> None:
        """Under the lock: `target` (without its versions/) becomes `versions/<keep_as>` of `staging`,
        then `staging` becomes `target`. Renames only, so a reader sees the old or the new persona."""
        versions = staging / VERSIONS
        if (target / VERSIONS).is_dir():
            os.replace(target / VERSIONS, versions)
        versions.mkdir(exist_ok=True)
        keep = versions / str(keep_as)
        if keep.exists():  # a number clash (hand-edited folder): never lose either
            keep = versions / str(max(self._version_numbers(staging) + [keep_as]) + 1)
        os.replace(target, keep)
        os.replace(staging, target)

    def update(self, name: str, **fields) -> Persona:
        """Change manifest fields of a persona (e.g. `metrics=...`, `evaluation=...`), atomically, under the lock.

        Known fields are set on the Persona; any other key goes to `extra` (kept in persona.json)."""
        with self.lock():
            persona = self.get(name)
            known = {f.name for f in dataclasses.fields(Persona)} - {"extra", "path", "slug", "name"}
            for key, value in fields.items():
                if key in known:
                    setattr(persona, key, value)
                else:
                    persona.extra[key] = value
            persona.updated_at = utc_now()
            write_json(persona.path / MANIFEST, persona.to_json())
        return persona

    def set_facts(self, name: str, facts: list) -> Persona:
        """Replace the persona's own facts (checked: studio.persona.facts.check_facts)."""
        from studio.persona.facts import check_facts

        return self.update(name, facts=check_facts(facts))

    def delete(self, name: str) -> None:
        """Delete a persona with all its versions, or only one earlier version (`NAME@vN`)."""
        base, number = parse_ref(name)
        if number is not None:
            return self.delete_version(base, number)
        persona = self.get(name)
        with self.lock():
            trash = self.root / f".deleted-{persona.slug}-{uuid.uuid4().hex[:8]}"
            os.replace(persona.path, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # versions -------------------------------------------------------------------------------

    def _version_persona(self, current: Persona, folder: Path, number: int) -> Persona:
        persona = self._read(folder)
        persona.slug, persona.name = version_ref(current.slug, number), current.name
        persona.extra["version"] = number
        return persona

    def versions(self, name: str) -> list[Persona]:
        """Every version of a persona: the current one first (its `path` is the persona folder), then the
        earlier ones, highest number first. After a restore the current one need not have the highest number."""
        current = self.get(parse_ref(name)[0])
        found = [current]
        for number in self._version_numbers(current.path):
            folder = current.path / VERSIONS / str(number)
            if (folder / MANIFEST).is_file():
                try:
                    found.append(self._version_persona(current, folder, number))
                except PersonaError:
                    continue  # listed by problems()
        return [current] + sorted(found[1:], key=lambda p: p.version, reverse=True)

    def get_version(self, name: str, number: int) -> Persona:
        current = self.get(name)
        if number == current.version:
            return current
        folder = current.path / VERSIONS / str(number)
        if not (folder / MANIFEST).is_file():
            known = ", ".join(f"v{p.version}" for p in self.versions(current.slug))
            raise PersonaError(f"Persona {current.slug!r} has no version v{number} (it has {known}). "
                               f"See: python -m studio versions {current.slug}")
        return self._version_persona(current, folder, number)

    def restore(self, name: str, number: int) -> Persona:
        """Make version `number` the current one; the current one becomes an earlier version again."""
        with self.lock():
            current = self.get(parse_ref(name)[0])
            if number == current.version:  # refused, not a silent no-op: "is now vN" would claim a change
                raise PersonaError(f"v{number} is already the current version of {current.slug!r}: "
                                   f"choose an earlier version to restore (python -m studio versions {current.slug}).")
            self.get_version(current.slug, number)  # a clear message when it does not exist
            staging = self.root / f".restore-{current.slug}-{uuid.uuid4().hex[:8]}"
            os.replace(current.path / VERSIONS / str(number), staging)
            self._swap_in(staging, current.path, keep_as=current.version)
            restored = self._read(current.path)
            restored.extra["version"] = number
            restored.extra["last_version"] = max(_last_version(current), _last_version(restored))
            write_json(current.path / MANIFEST, {**restored.to_json(), "name": current.name, "slug": current.slug})
        return self.get(current.slug)

    def delete_version(self, name: str, number: int) -> None:
        """Delete one earlier version; the current one is deleted with the persona (or restore another first)."""
        with self.lock():
            current = self.get(name)
            if number == current.version:
                raise PersonaError(f"v{number} is the current version of {current.slug!r}: restore another version "
                                   f"first, or delete the whole persona.")
            persona = self.get_version(current.slug, number)
            trash = self.root / f".deleted-{current.slug}-v{number}-{uuid.uuid4().hex[:8]}"
            os.replace(persona.path, trash)
            current.extra["last_version"] = max(_last_version(current), number)
            write_json(current.path / MANIFEST, current.to_json())
            shutil.rmtree(trash, ignore_errors=True)

    def rename(self, name: str, new_name: str) -> Persona:
        """Give a persona (with its versions) a new name and folder."""
        new_slug = slugify(new_name)
        with self.lock():
            persona = self.get(name)
            if "@" in persona.slug:
                raise PersonaError("Rename the persona, not one of its versions (drop the '@vN').")
            target = self.root / new_slug
            if target.exists() and new_slug != persona.slug:
                raise PersonaError(f"A persona named {new_slug!r} already exists. Choose another name.")
            os.replace(persona.path, target)
            persona.path, persona.slug, persona.name = target, new_slug, new_name.strip()
            persona.updated_at = utc_now()
            write_json(target / MANIFEST, persona.to_json())
        return persona
