"""Who may manage this deployment. A public demo is not an admin panel.

Public: a Hugging Face Space (SPACE_ID, SPACE_HOST or SYSTEM=spaces set), a share link, or a host other than
loopback (GRADIO_SERVER_NAME=0.0.0.0 ...); STUDIO_PUBLIC=1 or 0 forces it either way. Locally on 127.0.0.1
nothing here changes anything.

On a public deployment the management actions (registry changes, import/export, push/pull, training, evaluation
runs, facts, saving a pane's prompt as a persona's default) are for the owner only:
- signed in with Hugging Face (a Space with `hf_oauth: true`: gradio's OAuth and `gr.LoginButton`), as the
  Space's author (SPACE_AUTHOR_NAME) or a name in STUDIO_OWNERS=user1,user2;
- or, self-hosted, signed in through gradio's `auth=` (STUDIO_AUTH=user:password,user2:password2, or the path
  of a file with one user:password a line): every such account is an owner unless STUDIO_OWNERS names some.

`protect(demo, ...)` wraps, server-side, every handler that the owner-only tabs trigger (and the actions named
explicitly): a visitor's call, from the page or straight at the API, raises `gr.Error`; a view that only fills
an owner-only area (on page load, on a timer) gives a visitor nothing. The owner-only tabs, controls and timers
are hidden from visitors on page load (from the start on a Space).
"""

from __future__ import annotations

import functools
import inspect
import os
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.context import LocalContext

from studio.errors import ConfigError

SPACE_VARIABLES = ("SPACE_ID", "SPACE_HOST")
LOOPBACK = ("localhost", "::1", "[::1]")
YES, NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _setting(name: str) -> str:
    return os.environ.get(name, "").strip()


def is_public(demo: gr.Blocks | None = None) -> bool:
    """Whether people other than the machine's user can reach this app (see the module's doc)."""
    forced = _setting("STUDIO_PUBLIC").lower()
    if forced in YES or forced in NO:
        return forced in YES
    if any(_setting(name) for name in SPACE_VARIABLES) or _setting("SYSTEM") == "spaces":
        return True
    if demo is not None and getattr(demo, "share", False):
        return True
    host = (getattr(demo, "server_name", None) if demo is not None else None) or _setting("GRADIO_SERVER_NAME")
    return bool(host) and not (host in LOOPBACK or host.startswith("127."))


def auth_accounts() -> list[tuple[str, str]]:
    """The accounts of STUDIO_AUTH (user:password pairs, comma-separated, or a file of one pair a line)."""
    value = _setting("STUDIO_AUTH")
    if not value:
        return []
    path = Path(value).expanduser()
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else value.split(",")
    accounts = []
    for line in (line.strip() for line in lines):
        user, sep, password = line.partition(":")
        if not line or line.startswith("#"):
            continue
        if not (sep and user.strip() and password):
            raise ConfigError(f"STUDIO_AUTH: {line.split(':')[0]!r}... is not user:password. Write "
                              "STUDIO_AUTH=user:password,user2:password2, or the path of a file with one user:password a line.")
        accounts.append((user.strip(), password))
    return accounts


def owners() -> set[str]:
    """Who may manage: STUDIO_OWNERS, else the Space's author and every STUDIO_AUTH account (case ignored)."""
    listed = {name.strip().casefold() for name in _setting("STUDIO_OWNERS").split(",") if name.strip()}
    if listed:
        return listed
    author = {_setting("SPACE_AUTHOR_NAME").casefold()} - {""}
    return author | {user.casefold() for user, _ in auth_accounts()}


def oauth_available() -> bool:
    """A Space with `hf_oauth: true` gets OAUTH_CLIENT_ID; a sign-in button makes sense only then."""
    return bool(_setting("OAUTH_CLIENT_ID")) and is_public()


@dataclass(frozen=True)
class Viewer:
    """Who sent a request: a name (None: nobody signed in), how they signed in, and whether they own the app."""

    name: str | None
    via: str | None  # "huggingface" (OAuth) or "password" (auth=)
    owner: bool


def _oauth_name(request) -> str | None:
    """The Hugging Face user signed in through gradio's OAuth (its session cookie), unless the login expired."""
    underlying = getattr(request, "request", None) or request
    scope = getattr(underlying, "scope", None)
    session = scope.get("session") if isinstance(scope, dict) else None
    info = (session or {}).get("oauth_info") or {}
    if not info or (info.get("expires_at") or float("inf")) < time.time():
        return None
    return (info.get("userinfo") or {}).get("preferred_username") or None


def viewer(request) -> Viewer:
    """Who this request is from. No request (not served by gradio) counts as nobody."""
    if request is None:
        return Viewer(None, None, False)
    name, via = _oauth_name(request), "huggingface"
    if not name and getattr(request, "username", None):
        name, via = request.username, "password"
    return Viewer(name, via if name else None, bool(name) and name.casefold() in owners())


def refusal(who: Viewer) -> str:
    what = "Managing personas (changing the registry, import/export, Hub push/pull, training, evaluation) is "
    if who.name:
        return (what + f"for this deployment's owner, and {who.name} is not one of its owners. Run the studio on "
                "your own machine to manage your own personas.")
    if not (oauth_available() or auth_accounts()):
        return (what + "off on this public deployment: it has no sign-in. Its owner can enable one: hf_oauth: true "
                "in the Space's README (sign in with Hugging Face) or STUDIO_AUTH=user:password.")
    how = "sign in with Hugging Face" if oauth_available() else "sign in"
    return what + f"for this deployment's owner: {how} as the owner first. Visitors can chat and use the arena."


def allowed(request, demo: gr.Blocks | None = None) -> bool:
    return not is_public(demo) or viewer(request).owner


def _skips(count: int):
    return None if count == 0 else gr.skip() if count == 1 else tuple(gr.skip() for _ in range(count))


def guard(fn, demo: gr.Blocks, outputs: int, quiet: bool = False):
    """`fn` for the owner only, checked on the server at each call: a visitor gets `gr.Error` (or, `quiet`,
    no update at all). Keeps `fn`'s signature, so gradio still injects its request, progress and so on."""

    def check() -> bool:
        if allowed(LocalContext.request.get(None), demo):
            return True
        if quiet:
            return False
        raise gr.Error(refusal(viewer(LocalContext.request.get(None))), title="Owner only")

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            if check():
                yield from fn(*args, **kwargs)
            else:
                yield _skips(outputs)

        wrapper = gen_wrapper
    elif inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            return await fn(*args, **kwargs) if check() else _skips(outputs)

        wrapper = async_wrapper
    else:

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs) if check() else _skips(outputs)

    wrapper.owner_only = "quiet" if quiet else "refuse"
    return wrapper


def _inside(block, areas) -> bool:
    while block is not None:
        if any(block is area for area in areas):
            return True
        block = block.parent
    return False


def _owner_trigger(demo: gr.Blocks, fn, areas) -> str | None:
    """'refuse' when every trigger of `fn` is a control inside an owner-only area, 'quiet' when they are all
    timers there (a tick is no one's action), None otherwise. A `.then` step inherits its predecessor's."""
    kinds = set()
    for block_id, _event in fn.targets:
        if block_id is None:
            before = demo.fns.get(fn.trigger_after)
            kind = _owner_trigger(demo, before, areas) if before is not None else None
        else:
            block = demo.blocks.get(block_id)
            kind = None if block is None or not _inside(block, areas) else (
                "quiet" if isinstance(block, gr.Timer) else "refuse")
        if kind is None:
            return None
        kinds.add(kind)
    return ("refuse" if "refuse" in kinds else "quiet") if kinds else None


def protect(demo: gr.Blocks, areas: list, actions=(), status: gr.Markdown | None = None) -> dict[str, list]:
    """Make `areas` (tabs, columns) and `actions` (handler functions registered elsewhere) the owner's.

    Every handler triggered from inside an area, or that is one of `actions`, refuses visitors; a handler that
    only fills an area (page load, timers) gives them nothing. Call it last inside `with gr.Blocks()`.
    Returns the handler names by mode ({"refuse": [...], "quiet": [...]}), for tests and the log."""
    actions, modes = set(actions), {"refuse": [], "quiet": []}
    controls = []
    for fn in list(demo.fns.values()):
        if fn.fn is None or getattr(fn.fn, "owner_only", None):
            continue
        mode = "refuse" if fn.fn in actions else _owner_trigger(demo, fn, areas)
        if mode is None and fn.outputs and all(_inside(block, areas) for block in fn.outputs):
            mode = "quiet"
        if mode is None:
            continue
        if fn.fn in actions:
            controls += [demo.blocks[i] for i, _ in fn.targets if i is not None and not _inside(demo.blocks[i], areas)]
        fn.fn = guard(fn.fn, demo, len(fn.outputs), quiet=mode == "quiet")
        modes[mode].append(fn.api_name or fn.name)
    timers = [block for block in demo.blocks.values() if isinstance(block, gr.Timer) and _inside(block, areas)]
    _hide_from_visitors(demo, areas + controls, timers, status)
    return modes


def _hide_from_visitors(demo: gr.Blocks, hidden: list, timers: list, status: gr.Markdown | None) -> None:
    """Hidden (timers stopped) from the start where the environment already says public; on each page load,
    shown to the owner and kept hidden from visitors. Locally the load changes nothing."""
    if is_public():
        for block in hidden:
            block.visible = False
        for timer in timers:
            timer.active = False
    outputs = hidden + timers + ([status] if status is not None else [])

    def show(request: gr.Request):
        if not is_public(demo):
            return _skips(len(outputs))
        who = viewer(request)
        updates = [gr.update(visible=who.owner) for _ in hidden] + [gr.update(active=who.owner) for _ in timers]
        if status is not None:
            updates.append(gr.update(value=status_text(who), visible=True))
        return updates[0] if len(updates) == 1 else updates

    demo.load(show, None, outputs, api_visibility="private", show_progress="hidden")


def status_text(who: Viewer) -> str:
    if who.owner:
        return f"Signed in as **{who.name}**, an owner of this deployment: every tab is yours."
    public = ("**Public demo**: chat with the personas and vote in the arena. Managing personas (data, training, "
              "the registry, the Hub) is for the owner")
    if who.name:
        return public + f"; you are signed in as {who.name}, who is not one."
    return public + (": sign in with Hugging Face if that is you." if oauth_available() else ".")


def sign_in() -> gr.Markdown:
    """The sign-in row: gradio's Hugging Face login button on a Space with OAuth, and a line saying who you are
    (filled on page load, on public deployments only)."""
    with gr.Row():
        if oauth_available():
            gr.LoginButton(elem_id="access-login", scale=0)
        return gr.Markdown(visible=False, elem_id="access-status")


def launch_options() -> dict:
    """`demo.launch(**launch_options())`: gradio's password sign-in when STUDIO_AUTH gives accounts."""
    accounts = auth_accounts()
    return {"auth": accounts} if accounts else {}
