"""A public demo is not an admin panel: on a simulated Space, a visitor's call to every management endpoint is
refused on the server (through gradio_client, and straight at the queue for the endpoints gradio_client cannot
name), the owner's calls work, and locally on 127.0.0.1 nothing is refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from studio.errors import ConfigError
from studio.persona.registry import PersonaRegistry
from studio.ui import access
from tests.test_browser import free_port

SPACE_VARIABLES = ("SPACE_ID", "SPACE_HOST", "SPACE_AUTHOR_NAME", "SYSTEM", "STUDIO_PUBLIC", "STUDIO_OWNERS",
                   "STUDIO_AUTH", "OAUTH_CLIENT_ID", "GRADIO_SERVER_NAME")
REFUSED = "Managing personas"  # how every refusal starts (access.refusal)

# Every handler of the app, by module.function: the owner's (refused to visitors), the owner's views (a visitor
# gets no update) and the visitors'. A handler in none of them fails the test: decide whose it is.
MANAGEMENT = {
    "data_tab.columns_for", "data_tab.speakers_for", "data_tab.load", "fit_line.fit_markdown",
    "train_tab.start", "train_tab.cancel", "train_tab.resume",
    "evaluation_view.show", "evaluation_view.run", "facts_editor.rows", "facts_editor.save",
    "personas_tab.refresh", "personas_tab.details", "personas_tab.rename", "personas_tab.delete",
    "personas_tab.restore", "personas_tab.delete_version", "personas_tab.export", "personas_tab.export_card",
    "personas_tab.import_file", "personas_tab.push", "personas_tab.pull", "chat_tab.save_default",
    "base_picker.info", "base_picker.build.<locals>.<lambda>", "train_tab.build.<locals>.<lambda>",
    "real_or_bot_tab.prepare", "real_or_bot_tab.results_markdown",  # the Personas tab's real-or-bot section
    "gate_view.consent_line", "gate_view.gate_report", "gate_view.save_consent", "gate_view.data_table",
    "gate_view.forget",  # the Personas tab's consent, publish gate and forget sections
}
OWNER_VIEWS = {"train_tab.render", "personas_tab.refresh"}  # on the Train tab's timer, on page load
VISITORS = {
    "chat_tab.default_prompt", "chat_tab.warm", "chat_tab.apply_preset", "chat_tab.send", "chat_tab.regenerate",
    "chat_panes.stop", "chat_tab.clear", "chat_tab.build.<locals>.<lambda>", "chat_tab.api_chat", "chat_tab.refresh",
    "chat_extras.set_blind", "chat_extras.vote", "chat_extras.export", "chat_extras.duel", "chat_extras.win_table",
    "access._hide_from_visitors.<locals>.show",
    "base_picker.first_info",  # the Train tab's info line on page load (the tab itself is hidden from visitors)
    "real_or_bot_tab.start_round", "real_or_bot_tab._vote.<locals>.vote", "real_or_bot_tab.build.<locals>.<lambda>",
}


@pytest.fixture
def no_space(monkeypatch):
    for name in SPACE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def space(no_space, monkeypatch):
    """A simulated Space of alice's: the variables a Space sets."""
    monkeypatch.setenv("SPACE_ID", "alice/persona-studio")
    monkeypatch.setenv("SPACE_HOST", "alice-persona-studio.hf.space")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "alice")



def launch(tiny_model_dir, monkeypatch):
    from studio.ui import build_ui

    monkeypatch.setenv("STUDIO_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_ui()
    demo.launch(prevent_thread_lock=True, quiet=True, server_port=free_port(), **access.launch_options())
    return demo


@pytest.fixture
def app(request, tiny_persona, tiny_model_dir, monkeypatch):  # noqa: F811
    demo = launch(tiny_model_dir, monkeypatch)
    yield demo
    demo.close()


def key(fn) -> str:
    return f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__qualname__}"


def handlers(demo, mode: str | None) -> list:
    return [f for f in demo.fns.values() if f.fn is not None and getattr(f.fn, "owner_only", None) == mode]


def named(demo, mode: str) -> list:
    return [(f"/{f.api_name}", len(f.inputs)) for f in handlers(demo, mode) if f.api_visibility == "public"]


def unnamed(demo, mode: str) -> list:
    return [(i, f) for i, f in demo.fns.items() if f.fn is not None and getattr(f.fn, "owner_only", None) == mode
            and f.api_visibility != "public"]


def call_queue(url: str, fn_index: int, data: list, http: httpx.Client) -> dict:
    """What the page does: join the queue with a handler's index, read its events; the last message."""
    session = uuid.uuid4().hex
    joined = http.post(f"{url}gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                          "event_data": None, "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with http.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=60) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the queue never completed the call")


def signed_in(url: str, user: str | None, password: str | None) -> httpx.Client:
    http = httpx.Client(timeout=30)
    if user:
        assert http.post(f"{url}login", data={"username": user, "password": password}).status_code == 200
    return http


def test_public_is_a_space_a_share_link_or_a_non_loopback_host(no_space, monkeypatch):
    class Launched:
        share, server_name = False, "127.0.0.1"

    assert not access.is_public() and not access.is_public(Launched())
    Launched.share = True
    assert access.is_public(Launched())
    Launched.share, Launched.server_name = False, "0.0.0.0"
    assert access.is_public(Launched())
    monkeypatch.setenv("STUDIO_PUBLIC", "0")
    assert not access.is_public(Launched()), "STUDIO_PUBLIC=0 forces it off"
    monkeypatch.setenv("STUDIO_PUBLIC", "1")
    assert access.is_public()
    monkeypatch.delenv("STUDIO_PUBLIC")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "localhost")
    assert not access.is_public()
    monkeypatch.setenv("SPACE_ID", "alice/studio")
    assert access.is_public()


def test_owners_and_accounts(no_space, monkeypatch, tmp_path):
    assert access.owners() == set() and access.auth_accounts() == [] and access.launch_options() == {}
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "Alice")
    assert access.owners() == {"alice"}
    monkeypatch.setenv("STUDIO_AUTH", "bob:pw:with:colons, carol:x")
    assert access.auth_accounts() == [("bob", "pw:with:colons"), ("carol", "x")]
    assert access.owners() == {"alice", "bob", "carol"}
    assert access.launch_options() == {"auth": [("bob", "pw:with:colons"), ("carol", "x")]}
    monkeypatch.setenv("STUDIO_OWNERS", "carol, Dave")
    assert access.owners() == {"carol", "dave"}, "an allow-list replaces the defaults"
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("# owners\nerin:a,b\n\n", encoding="utf-8")
    monkeypatch.setenv("STUDIO_AUTH", str(accounts))
    assert access.auth_accounts() == [("erin", "a,b")]
    monkeypatch.setenv("STUDIO_AUTH", "frank")
    with pytest.raises(ConfigError, match="user:password"):
        access.auth_accounts()


def test_every_handler_is_classified(space, tiny_model_dir, monkeypatch):
    from studio.ui import build_ui

    demo = build_ui()
    modes = {key(f.fn): getattr(f.fn, "owner_only", None) for f in demo.fns.values() if f.fn is not None}
    unknown = set(modes) - MANAGEMENT - OWNER_VIEWS - VISITORS
    assert not unknown, f"new handlers: add each to MANAGEMENT, OWNER_VIEWS or VISITORS here: {sorted(unknown)}"
    refused = {k for f in handlers(demo, "refuse") for k in [key(f.fn)]}
    assert refused == MANAGEMENT, "every management handler refuses visitors"
    assert {key(f.fn) for f in handlers(demo, "quiet")} == OWNER_VIEWS
    assert not {key(f.fn) for f in handlers(demo, None)} & MANAGEMENT
    tabs = {b.id: b.visible for b in demo.blocks.values() if type(b).__name__ == "Tab"}
    assert tabs == {"data": False, "train": False, "chat": True, "personas": False, "real-or-bot": True}, "hidden from the start on a Space"


def defaults(client, name: str) -> list:
    """The endpoint's inputs as the page starts them (a slider's value, an empty box): valid, so the handler runs."""
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"][name]["parameters"]
    return [p["parameter_default"] if p["parameter_has_default"] else None for p in parameters]


def assert_refused(client, endpoints, match: str):
    from gradio_client.exceptions import AppError

    for name, _ in endpoints:
        with pytest.raises(AppError, match=match):
            client.predict(*defaults(client, name), api_name=name)


def test_space_visitor_is_refused_everywhere_and_chats(space, monkeypatch, request):
    """Alice's Space, nobody signed in (no OAuth configured): every management call is refused, chat works."""
    from gradio_client import Client

    demo = request.getfixturevalue("app")
    url, registry = demo.local_url, PersonaRegistry()
    before = sorted(p.name for p in registry.list())
    visitor = Client(url, verbose=False)
    endpoints = named(demo, "refuse")
    assert {"/rename", "/delete", "/import_file", "/export_1", "/push", "/pull", "/start", "/run",
            "/persona_facts_save"} <= {n for n, _ in endpoints}
    assert_refused(visitor, endpoints, "it has no sign-in")
    # real inputs: refused too. The persona picker's choices come from the Personas tab's page-load view,
    # which gives a visitor nothing, so gradio itself already rejects "tiny" there; a pull has only text boxes
    for args, name in ((("tiny", "Stolen"), "/rename"), (("tiny", "eve/stolen", False, "", False, ""), "/push")):
        with pytest.raises(Exception, match=f"{REFUSED}|not in the list of choices"):
            visitor.predict(*args, api_name=name)
    with pytest.raises(Exception, match=REFUSED):
        visitor.predict("eve/planted", "planted", "", "", api_name="/pull")
    unnamed_refused = unnamed(demo, "refuse")  # no API name ("Save as persona's default"...): the page's own call
    assert {f.fn.__name__ for _, f in unnamed_refused} == {"save_default", "rows"}
    for index, fn in unnamed_refused:
        data = ["tiny", "Say only: buy my coin."] if fn.fn.__name__ == "save_default" else [None] * len(fn.inputs)
        done = call_queue(url, index, data, httpx.Client(timeout=30))
        assert not done["success"] and REFUSED in done["output"]["error"]
    assert sorted(p.name for p in registry.list()) == before and registry.get("tiny").system_prompt != "Say only: buy my coin."

    listing = visitor.predict(None, api_name="/refresh_3")  # the Personas tab's page-load view: nothing for visitors
    assert "8 kept" not in json.dumps(listing, default=str)
    replies = visitor.predict("hello", targets="base,tiny", max_new_tokens=6, greedy=True, api_name="/chat")
    assert [r["target"] for r in replies] == ["base", "tiny"] and all(r["reply"] for r in replies)


@pytest.fixture
def accounts(space, monkeypatch):
    """Self-hosted sign-in on the Space: alice owns it, guest may only chat."""
    monkeypatch.setenv("STUDIO_AUTH", "alice:owner-pass,guest:guest-pass")
    monkeypatch.setenv("STUDIO_OWNERS", "alice")


def test_signed_in_non_owner_is_refused_and_the_owner_manages(accounts, request, tmp_path):
    from gradio_client import Client

    demo = request.getfixturevalue("app")
    url, registry = demo.local_url, PersonaRegistry()
    guest, owner = Client(url, auth=("guest", "guest-pass"), verbose=False), Client(url, auth=("alice", "owner-pass"), verbose=False)
    endpoints = named(demo, "refuse")
    assert_refused(guest, endpoints, "guest is not one of its owners")
    assert_owner_is_never_refused(owner, endpoints)

    index = next(i for i, f in unnamed(demo, "refuse") if f.fn.__name__ == "save_default")
    for user, password, works in (("guest", "guest-pass", False), ("alice", "owner-pass", True)):
        done = call_queue(url, index, ["tiny", f"You are Tiny ({user})."], signed_in(url, user, password))
        assert done["success"] is works, done
    assert registry.get("tiny").system_prompt == "You are Tiny (alice)."
    listing = owner.predict(None, api_name="/refresh_3")  # what the owner's page load does: fills the tab
    assert "8 kept" in json.dumps(listing, default=str)
    assert str(owner.predict("tiny", None, False, "", api_name="/export_1")[0]).endswith(".zip")
    assert "Renamed" in owner.predict("tiny", "Tiny Two", api_name="/rename")[0]
    assert registry.get("tiny-two").name == "Tiny Two"


def assert_owner_is_never_refused(client, endpoints):
    for name, _ in endpoints:
        try:
            client.predict(*defaults(client, name), api_name=name)
        except Exception as exc:  # the handler's own answer to empty inputs ("Choose a persona first."...)
            assert REFUSED not in str(exc), (name, exc)


def test_locally_nothing_is_refused(no_space, request):
    from gradio_client import Client

    demo = request.getfixturevalue("app")
    assert demo.server_name == "127.0.0.1" and not access.is_public(demo)
    client = Client(demo.local_url, verbose=False)
    assert_owner_is_never_refused(client, named(demo, "refuse") + named(demo, "quiet"))
    assert "8 kept" in json.dumps(client.predict(None, api_name="/refresh_3"), default=str)
    assert "Renamed" in client.predict("tiny", "Local Tiny", api_name="/rename")[0]
    assert PersonaRegistry().get("local-tiny").name == "Local Tiny"


@pytest.fixture
def space_app(space, tiny_persona, tiny_model_dir, tmp_path, monkeypatch):  # noqa: F811
    """`python app.py` as a Space runs it, in its own process, with the variables set (the Space's, and the test's)."""
    from tests.test_browser import served_app

    with served_app(tmp_path, {"STUDIO_BASE_MODEL": str(tiny_model_dir)}) as url:
        yield url


@pytest.mark.browser
def test_browser_visitor_sees_no_management_and_the_owner_sees_it_all(space, monkeypatch, request):
    from playwright.sync_api import expect, sync_playwright

    from tests.test_browser import CHROMIUM, ROOT

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    monkeypatch.setenv("STUDIO_AUTH", "alice:owner-pass,guest:guest-pass")
    monkeypatch.setenv("STUDIO_OWNERS", "alice")
    url = request.getfixturevalue("space_app")
    (ROOT / "artifacts").mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        for user, password, owner in (("guest", "guest-pass", False), ("alice", "owner-pass", True)):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_label("username").fill(user)
            page.get_by_label("password").fill(password)
            page.get_by_role("button", name="Login").click()
            status = page.locator("#access-status")
            expect(status).to_contain_text("Signed in as alice" if owner else "Public demo", timeout=60_000)
            expect(page.get_by_role("tab", name="3. Chat")).to_be_visible()
            expect(page.locator("#chat-message textarea")).to_be_visible()
            for tab in ("1. Data", "2. Train", "4. Personas"):
                expect(page.get_by_role("tab", name=tab)).to_have_count(1 if owner else 0)
            expect(page.locator("#chat-save-0")).to_be_visible() if owner else expect(page.locator("#chat-save-0")).to_be_hidden()
            page.screenshot(path=str(ROOT / "artifacts" / f"browser-access-{'owner' if owner else 'visitor'}.png"), full_page=False)
            if owner:
                page.get_by_role("tab", name="4. Personas").click()
                expect(page.locator("#personas-table")).to_contain_text("tiny", timeout=30_000)
            page.close()
        browser.close()


def hugging_face_sign_in(url: str) -> str:
    """Press "Sign in with Hugging Face" (gradio's own login routes; off a real Space they sign in the user of
    the machine's HF_TOKEN, asked of the Hub); returns the session cookie the browser would keep."""
    http, cookie = httpx.Client(timeout=30), None
    response = http.get(f"{url}login/huggingface")
    while response.is_redirect:  # login -> callback (sets the session) -> back to the page
        cookie = response.cookies.get("session") or cookie  # a Secure cookie: httpx keeps it off http, so by hand
        response = http.get(httpx.URL(url).join(response.headers["location"]), headers={"Cookie": f"session={cookie}"} if cookie else None)
    assert cookie, "the sign-in set no session cookie"
    return cookie


def test_space_owner_signs_in_with_hugging_face(space, monkeypatch, request):
    """alice's Space with `hf_oauth: true` (OAUTH_CLIENT_ID set): the Hub (a local stand-in) says the signed-in
    user is alice, the Space's author: her calls work; an anonymous visitor is asked to sign in."""
    from gradio_client import Client

    from tests import hub_standin

    server, _state, hub_url = hub_standin.start({"hf_alice_token": {"name": "alice"}})
    monkeypatch.setenv("HF_ENDPOINT", hub_url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_alice_token")
    monkeypatch.setenv("OAUTH_CLIENT_ID", "persona-studio-test")
    try:
        url = request.getfixturevalue("space_app")
        assert "access-login" in httpx.get(url, timeout=30).text, "the page shows the sign-in button"
        visitor = Client(url, verbose=False)
        with pytest.raises(Exception, match="sign in with Hugging Face as the owner"):
            visitor.predict("tiny", "", "", "", api_name="/pull")
        owner = Client(url, verbose=False, headers={"Cookie": f"session={hugging_face_sign_in(url)}"})
        assert "8 kept" in json.dumps(owner.predict(None, api_name="/refresh_3"), default=str)
        assert "Renamed" in owner.predict("tiny", "Alice's Tiny", api_name="/rename")[0]
        assert PersonaRegistry().get("alice-s-tiny").name == "Alice's Tiny"
    finally:
        server.shutdown()
        server.server_close()
