"""Real or bot?: the judge's page (a tab of the app, or a page alone: `python app.py --real-or-bot NAME`) and the
owner's results (in the Personas tab). The logic and the votes are in studio/chat/real_or_bot.py.

What reaches the browser: the two texts, the opening and the judge's own tally. The round token and the persona
(on the page alone) stay on the server in `gr.State`; which side is real is only in the store. The judge id is
also kept in the browser (`gr.BrowserState`, encrypted, no cookie), so a reload does not show a post again."""

from __future__ import annotations

import functools
import os

import gradio as gr

from studio.chat import real_or_bot
from studio.chat.real_or_bot import SURE, NoMoreRounds, RealOrBot, version_of
from studio.config import personas_dir
from studio.errors import PersonaError
from studio.persona.registry import PersonaRegistry
from studio.ui.common import user_errors

FLAG = "--real-or-bot"
ENV = "STUDIO_REAL_OR_BOT"
ASK = "Which one did {name} write? One is a real post of theirs, the other a chatbot trained on their posts."


@functools.lru_cache(maxsize=8)
def _store_at(root: str) -> RealOrBot:
    return RealOrBot(root)


def store() -> RealOrBot:
    """The process's store for the current registry folder (its held-out openings cached)."""
    return _store_at(str(personas_dir().resolve()))


def page_requested(argv: list[str]) -> str | None:
    """The persona of `--real-or-bot NAME` (or `$STUDIO_REAL_OR_BOT`, for a Space): the app then serves only
    this page. None: the whole app."""
    if FLAG in argv:
        at = argv.index(FLAG)
        if at + 1 >= len(argv) or argv[at + 1].startswith("-"):
            raise SystemExit(f"{FLAG} needs a persona: python app.py {FLAG} NAME")
        return argv[at + 1]
    return os.environ.get(ENV) or None


def _client(request: gr.Request | None) -> str:
    return getattr(getattr(request, "client", None), "host", "") or "" if request is not None else ""


def _judge(judge: str | None, remembered: str | None, request: gr.Request | None) -> str:
    """This session's judge: the one it has, else the one the browser remembers, else a new one."""
    rob = store()
    for candidate in (judge, remembered):
        if rob.known_judge(candidate):
            return candidate
    return rob.new_judge(_client(request))


def _round_outputs(judge, token, opening, a, b, result, open_round: bool):
    buttons = gr.Button(interactive=open_round)
    return judge, judge, token, opening, a, b, result, buttons, buttons, gr.Radio(value=None)


@user_errors
def start_round(ref: str | None, judge: str | None, remembered: str | None, request: gr.Request = None):
    """A new round for this session's judge; outputs: judge, remembered, token, opening, A, B, result, pick
    buttons (twice) and the how-sure choice."""
    if not ref:
        raise PersonaError("Choose a persona to judge first.")
    judge = _judge(judge, remembered, request)
    try:
        r = store().next_round(judge, ref)
    except NoMoreRounds as done:
        return _round_outputs(judge, None, "", "", "", f"**{done}**", False)
    return _round_outputs(judge, r.token, f"**Round {r.number}.** They were answering: *{r.opening}*", r.a, r.b,
                          "Pick the real one.", True)


def _vote(side: str):
    @user_errors
    def vote(judge: str | None, token: str | None, sure: int | None):
        if not token:
            raise PersonaError("No open round: press 'Next round'.")
        verdict = store().vote(judge or "", token, side, sure)
        real = verdict.real_side.upper()
        head = (f"**Fooled!** {real} was the real post; {side.upper()} was the chatbot." if verdict.fooled
                else f"**Right!** {real} was the real post.")
        closed = gr.Button(interactive=False)
        return None, f"{head} You spotted {verdict.spotted} of {verdict.judged}. Press 'Next round' for another.", closed, closed
    vote.__name__ = f"vote_{side}"
    return vote


def build(ref: str | None = None) -> tuple[list, list]:
    """The judge's page. `ref` fixed: the page alone (the persona stays on the server); None: a tab with a
    persona choice."""
    persona = gr.State(ref)
    judge = gr.State(None)
    token = gr.State(None)
    remembered = gr.BrowserState(None, storage_key="studio-real-or-bot-judge", secret=store().secret())
    if ref is None:
        gr.Markdown("Real or bot?: a judge sees a real held-out post and a persona reply to the same opening, and "
                    "picks the real one. To send a judge a page with nothing else on it: `python app.py "
                    f"{FLAG} NAME`. Results are in the Personas tab.")
        choose = gr.Dropdown(label="Persona to judge", choices=[p.slug for p in PersonaRegistry().list()],
                             elem_id="rob-persona")
        choose.change(lambda slug: slug, choose, persona)
        choose.focus(lambda: gr.Dropdown(choices=[p.slug for p in PersonaRegistry().list()]), None, choose)  # new personas
    opening = gr.Markdown(elem_id="rob-opening")
    with gr.Row():
        with gr.Column():
            a = gr.Textbox(label="A", interactive=False, lines=3, elem_id="rob-a")
            pick_a = gr.Button("A is the real post", variant="primary", interactive=False, elem_id="rob-pick-a")
        with gr.Column():
            b = gr.Textbox(label="B", interactive=False, lines=3, elem_id="rob-b")
            pick_b = gr.Button("B is the real post", variant="primary", interactive=False, elem_id="rob-pick-b")
    sure = gr.Radio([(label, n) for n, label in SURE.items()], label="How sure are you? (optional)", elem_id="rob-sure")
    result = gr.Markdown(elem_id="rob-result")
    next_button = gr.Button("Next round", elem_id="rob-next")
    outputs = [judge, remembered, token, opening, a, b, result, pick_a, pick_b, sure]
    inputs = [persona, judge, remembered]
    next_button.click(start_round, inputs, outputs, api_name="round", concurrency_limit=8)
    for side, button in (("a", pick_a), ("b", pick_b)):
        button.click(_vote(side), [judge, token, sure], [token, result, pick_a, pick_b], api_name=f"vote_{side}",
                     concurrency_limit=8)
    return inputs, outputs


def page(ref: str) -> gr.Blocks:
    """The page alone, for judges: one persona, its rounds, nothing of the registry or the other tabs."""
    persona = RealOrBot().registry.get(ref)  # a clear error now rather than on the first judge's visit
    with gr.Blocks(title="Real or bot?") as demo:
        gr.Markdown("# Real or bot?\n" + ASK.format(name=persona.name))
        inputs, outputs = build(ref)
        demo.load(start_round, inputs, outputs, api_name=False)
    demo.queue(default_concurrency_limit=8)
    return demo


# the owner's view (Personas tab)
def results_markdown(slug: str | None) -> str:
    if not slug:
        return ""
    rob = store()
    try:
        results = rob.results(slug)
        ranked = real_or_bot.ranking(slug, rob)
        ready = {version_of(p): (rob.pooled(p.slug), len(rob.openings(p))) for p in rob.registry.versions(slug)}
    except PersonaError as exc:
        return str(exc)
    lines = [f"Send judges a page with only this test: `python app.py {FLAG} {slug}`. Replies ready (pool): " +
             ", ".join(f"{ref} {n} of {total} held-out posts" for ref, (n, total) in ready.items()) + ".", ""]
    if not results["overall"]["votes"]:
        return "\n".join(lines + ["No real-or-bot votes yet."])
    lines += ["Fooled: the share of votes that picked the persona's reply as the real post, with its 95 % Wilson "
              "interval. About 50 % means the judges cannot tell them apart.", "",
              "| | votes | fooled | rate | 95 % interval |", "|---|---|---|---|---|"]
    rows = [("**all**", results["overall"]), ("when certain", results["certain"]),
            *results["versions"].items(), *results["judges"].items()]
    for label, r in rows:
        if r["votes"]:
            lines.append(f"| {label} | {r['votes']} | {r['fooled']} | {r['rate']:.0%} | {r['low']:.0%}-{r['high']:.0%} |")
    lines += ["", "**Ranking** (Bradley-Terry over the arena's blind votes and these votes; score 0 = average, "
              "a lead of 1 = wins 73 % of the time):", "", "| rank | who | score | wins | games |", "|---|---|---|---|---|"]
    lines += [f"| {i} | {r['player']} | {r['score']:+.2f} | {r['wins']} | {r['games']} |" for i, r in enumerate(ranked, 1)]
    return "\n".join(lines)


@user_errors
def prepare(slug: str | None, ref: str | None, count: float):
    if not slug:
        raise PersonaError("Choose a persona first.")
    added = store().fill_pool(ref or slug, limit=int(count or 0) or None)
    gr.Info(f"{added} replies written for {ref or slug}.")
    return results_markdown(slug)


def build_results(selected: gr.Dropdown, version: gr.Dropdown) -> gr.Markdown:
    """The Personas tab's real-or-bot section: fooled rates, ranking, and writing the reply pool ahead."""
    shown = gr.Markdown(elem_id="rob-results")
    with gr.Row():
        count = gr.Number(value=50, precision=0, minimum=1, label="Replies to write ahead (selected version)", scale=2)
        write = gr.Button("Write replies for rounds", elem_id="rob-prepare", scale=1)
    write.click(prepare, [selected, version, count], shown)
    selected.change(results_markdown, selected, shown)
    return shown

