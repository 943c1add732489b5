"""Push personas to the Hugging Face Hub and pull adapters back, with messages a user can act on.

A pushed repo holds the adapter at its root (so `PeftModel.from_pretrained(base, "user/repo")`
works), the model card (README.md) and `persona-studio.json`: the manifest without local paths,
raw posts or private scrub lists. The token comes from the caller (a UI password field) or
`HF_TOKEN` (a Space secret); it is passed to huggingface_hub per call and never stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

from studio.errors import StudioError
from studio.files import utc_now
from studio.persona.registry import Persona, PersonaRegistry

log = logging.getLogger(__name__)

HUB_MANIFEST = "persona-studio.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
PULL_PATTERNS = [*ADAPTER_FILES, "README.md", HUB_MANIFEST]
TOKEN_HELP = "Create a token with write access at https://huggingface.co/settings/tokens"


class HubError(StudioError):
    """A Hub operation that failed for a reason the user can fix (token, network, name, limits)."""


def endpoint() -> str:
    """The Hub to talk to: `$HF_ENDPOINT` (read per call, so a test or a mirror can set it), else huggingface.co."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def get_token(token: str | None = None) -> str | None:
    token = (token or "").strip() or os.environ.get("HF_TOKEN", "").strip()
    return token or None


def _status(exc) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


@contextlib.contextmanager
def hub_errors(repo_id: str, action: str):
    """Turn huggingface_hub/httpx failures into HubError messages (no token text ever included)."""
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError)

    try:
        yield
    except HubError:
        raise
    except GatedRepoError as exc:
        raise HubError(f"{repo_id} is gated: accept its conditions on the Hub with your account, then {action} again.") from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        if _status(exc) == 401:
            raise HubError(f"{repo_id}: not found, or private and your token cannot see it (401). "
                           f"Check the repo name and the token. {TOKEN_HELP}") from exc
        raise HubError(f"{repo_id}: not found on the Hub (404). Check the name (user/repo).") from exc
    except HfHubHTTPError as exc:
        status = _status(exc)
        if status == 401:
            raise HubError(f"The Hub refused the token (401): it is invalid or expired. {TOKEN_HELP}") from exc
        if status == 403:
            raise HubError(f"The token may not {action} {repo_id} (403): it needs write access to that "
                           f"user or organisation. {TOKEN_HELP}") from exc
        if status == 404:
            raise HubError(f"{repo_id}: not found on the Hub (404). Check the name (user/repo).") from exc
        if status == 429:
            raise HubError("The Hub is rate-limiting these requests (429): wait a few minutes and try again.") from exc
        raise HubError(f"The Hub answered {status} while trying to {action} {repo_id}: {str(exc).splitlines()[0]}") from exc
    except (OfflineModeIsEnabled, LocalEntryNotFoundError, *_transport_errors(), ConnectionError, TimeoutError) as exc:
        raise HubError(f"Cannot reach the Hub at {endpoint()} (no network, or HF_HUB_OFFLINE is set). "
                       f"Connect to the internet and {action} again.") from exc


def _transport_errors() -> tuple:
    """Connection failures of the HTTP client huggingface_hub uses (httpx2 in 2.x, httpx before)."""
    import importlib

    found = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _api(token: str | None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint(), token=token or False, library_name="persona-studio")


def check_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id = (repo_id or "").strip()
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"{repo_id!r} is not a Hub repo name: use USER/NAME, e.g. alice/koume-persona.") from exc
    if "/" not in repo_id:
        raise HubError(f"{repo_id!r} needs an owner: use USER/NAME, e.g. alice/{repo_id}.")
    return repo_id


def hub_manifest(persona: Persona) -> dict:
    """persona.json for the Hub: no local paths, no raw posts, no private lists."""
    base = persona.base_model or {}
    spec, base_id = str(base.get("spec", "")), str(base.get("id") or "")
    text = json.dumps(persona.to_json(), ensure_ascii=False)
    if spec and _is_local(spec):  # e.g. base_model.spec and train.base_model: the Hub id instead
        text = text.replace(json.dumps(spec)[1:-1], json.dumps(base_id)[1:-1])
    data = json.loads(text)
    for step in (data.get("data") or {}).get("steps", {}).values():
        if isinstance(step, dict):
            step.pop("examples", None)
    config = (data.get("data") or {}).get("config") or {}
    config.pop("scrub_names", None)
    (data.get("data") or {}).pop("scrubbed", None)  # the salted hashes of scrubbed strings stay here
    if isinstance(data.get("gate"), dict):
        data["gate"] = {k: v for k, v in data["gate"].items() if k != "offending"}  # replies that may hold private data
    for key in ("imported_from", "hub"):
        data.pop(key, None)
    data["slug"] = persona.base_slug
    return data


def _is_local(spec: str) -> bool:
    return spec.startswith(("/", ".", "~")) or os.path.isabs(spec) or Path(spec).expanduser().exists()


def hub_adapter_config(persona: Persona) -> bytes:
    """adapter_config.json with the base model named by its Hub id, not this machine's folder."""
    config = json.loads((persona.adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if _is_local(str(config.get("base_model_name_or_path") or "")):
        config["base_model_name_or_path"] = persona.base_model.get("id")
    return json.dumps(config, indent=2, sort_keys=True).encode("utf-8")


def preflight(persona: Persona, repo_id: str, token: str | None = None) -> tuple[str, str]:
    """The checks of a push that need no model: the repo name, the adapter files, consent, a token.
    Returns (repo_id, token)."""
    from studio.persona.consent import require_consent

    repo_id = check_repo_id(repo_id)
    for file in ADAPTER_FILES:
        if not (persona.adapter_dir / file).is_file():
            raise HubError(f"Persona {persona.slug!r} has no adapter/{file}: train it again before pushing.")
    require_consent(persona, "push")
    token = get_token(token)
    if not token:
        raise HubError(f"No Hugging Face token: set HF_TOKEN (or a Space secret), or paste one in the token field. {TOKEN_HELP}")
    return repo_id, token


def push(name: str, repo_id: str, token: str | None = None, private: bool = False,
         registry: PersonaRegistry | None = None) -> str:
    """Upload the persona's adapter, card and manifest to `repo_id` (created if needed); returns the repo URL.
    Refused without a consent statement (studio.persona.consent) or a passed (or overridden) publish gate
    record for this adapter (studio.persona.gate; studio.evaluation.gate.push_gated runs the gate first)."""
    from huggingface_hub import CommitOperationAdd

    from studio.persona.card import build_card
    from studio.persona.gate import check_publishable

    registry = registry or PersonaRegistry()
    persona = registry.get(name)
    repo_id, token = preflight(persona, repo_id, token)
    check_publishable(persona, "push")
    api = _api(token)
    with hub_errors(repo_id, "push to"):
        me = api.whoami(token=token)
        owners = {me.get("name")} | {org.get("name") for org in me.get("orgs") or []}
        owner = repo_id.split("/", 1)[0]
        if owner not in owners:
            raise HubError(f"{repo_id} belongs to {owner!r}, and this token is {me.get('name')!r} "
                           f"(organisations: {', '.join(sorted(o for o in owners - {me.get('name')} if o)) or 'none'}). "
                           f"Push to {me.get('name')}/{repo_id.split('/', 1)[1]} instead.")
        url = f"{endpoint()}/{repo_id}"
        if not api.repo_exists(repo_id, token=token):
            url = str(api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model"))
        card = str(build_card(persona, repo_id=repo_id)).encode("utf-8")
        manifest = json.dumps(hub_manifest(persona), ensure_ascii=False, indent=2).encode("utf-8")
        operations = [CommitOperationAdd(path_in_repo="adapter_config.json", path_or_fileobj=hub_adapter_config(persona)),
                      CommitOperationAdd(path_in_repo="adapter_model.safetensors",
                                         path_or_fileobj=str(persona.adapter_dir / "adapter_model.safetensors")),
                      CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card),
                       CommitOperationAdd(path_in_repo=HUB_MANIFEST, path_or_fileobj=manifest)]
        commit = api.create_commit(repo_id, operations, commit_message=f"Persona Studio: {persona.name} v{persona.version}")
    pushed = {"repo": repo_id, "commit": commit.oid, "pushed_at": utc_now()}
    if "@" not in persona.slug:
        registry.update(persona.slug, hub=pushed)
    log.info("Pushed %s to %s", persona.slug, repo_id)
    return str(url)


def pull(repo_id: str, name: str | None = None, token: str | None = None, base: str | None = None,
         overwrite: bool = False, revision: str | None = None, registry: PersonaRegistry | None = None) -> Persona:
    """Bring a Persona Studio repo, or any PEFT LoRA adapter repo whose base model resolves, into the registry."""
    from huggingface_hub import snapshot_download

    from studio.chat_format import default_system_prompt
    from studio.persona.share import check_adapter_config, check_safetensors, resolve_persona_base

    registry = registry or PersonaRegistry()
    repo_id = check_repo_id(repo_id)
    display = (name or repo_id.split("/", 1)[1]).strip()
    slug = registry.check_available(display, overwrite)
    token = get_token(token)
    with tempfile.TemporaryDirectory(prefix="studio-pull-") as tmp, hub_errors(repo_id, "pull"):
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=PULL_PATTERNS, local_dir=tmp,
                                        endpoint=endpoint(), token=token or False))
        files = {p.name for p in folder.iterdir() if p.is_file()}
        if "adapter_config.json" not in files:
            raise HubError(f"{repo_id} has no adapter_config.json at its root: it is not a PEFT adapter repo.")
        if "adapter_model.safetensors" not in files:
            raise HubError(f"{repo_id} has no adapter_model.safetensors (pickle weights such as .bin are never loaded).")
        config = check_adapter_config(json.loads((folder / "adapter_config.json").read_text()), f"{repo_id}: adapter_config.json")
        weights = (folder / "adapter_model.safetensors").read_bytes()
        check_safetensors(weights, f"{repo_id}: adapter_model.safetensors")
        manifest = json.loads((folder / HUB_MANIFEST).read_text()) if HUB_MANIFEST in files else {}
        base_model = manifest.get("base_model") or {"id": config.get("base_model_name_or_path"),
                                                    "spec": config.get("base_model_name_or_path")}
        ref = resolve_persona_base(base_model, base)
        if not manifest:
            manifest = {"name": display, "system_prompt": default_system_prompt(display),
                        "data": {"source": f"an adapter pulled from {repo_id}"}, "train": {"rank": config.get("r")}}
        manifest.update(name=display, slug=slug, base_model=ref.to_json() if base or not manifest.get("base_model") else base_model)
        manifest.pop("version", None)
        manifest.pop("last_version", None)
        persona = Persona.from_json(manifest, registry.root / slug)
        persona.extra["hub"] = {"repo": repo_id, "pulled_at": utc_now()}
        with registry.create(persona, overwrite=overwrite) as staging:
            (staging / "adapter").mkdir()
            for file in ADAPTER_FILES:
                (staging / "adapter" / file).write_bytes((folder / file).read_bytes())
            if "README.md" in files:
                (staging / "README.md").write_bytes((folder / "README.md").read_bytes())
    return registry.get(slug)
