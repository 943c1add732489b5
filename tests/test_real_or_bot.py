"""Real or bot?: openings, the reply pool written by the chat engine on the tiny persona, rounds a judge never
sees twice, refused votes (forged, another judge's, replayed, voided, expired, too fast), the fooled rate and its
Wilson interval, and Bradley-Terry on planted votes."""

import random

import numpy as np
import pytest

from studio.chat.arena import VoteStore
from studio.chat.engine import BASE
from studio.chat.rating import bradley_terry, wilson, win_probability
from studio.chat.real_or_bot import REAL, Limits, NoMoreRounds, RealOrBot, openings, post_key, ranking
from studio.chat_format import USER_PROMPTS
from studio.errors import PersonaError
from studio.files import write_jsonl

HELD_OUT = [
    {"text": "Deploys on Friday are a bold lifestyle choice.", "id": "h1"},
    {"text": "Yes, and it broke in the same place twice.", "id": "h2", "is_reply": True, "reply_to_id": "h1"},
    {"text": "Tea at four, always.", "context": "What do you do every afternoon?"},
    {"text": "Reading the parser book again, slowly."},
    {"text": "今日は雨なので家でコードを書きます。"},
    {"text": "A small tool that does one job is a joy."},
    {"text": "Trying vim keys in every editor now."},
    {"text": "Coffee count today: three. Maybe four."},
]


def judged_persona(registry):
    """'tiny' with eight held-out posts (two with the text they answered)."""
    persona = registry.get("tiny")
    write_jsonl(persona.path / "data" / "validation.jsonl", HELD_OUT)
    return persona


@pytest.fixture
def rob(tiny_persona):
    store = RealOrBot(tiny_persona.path.parent, registry=None)
    judged_persona(store.registry)
    return store


@pytest.fixture
def pooled(rob):
    assert rob.fill_pool("tiny", settings=None) == rob.pooled("tiny")
    return rob


def real_side(rob, r) -> str:
    """Which side is real, as only a test that knows the held-out posts can tell."""
    reals = {o.real for o in rob.openings(rob.registry.get("tiny"))}
    return "a" if r.a in reals else "b"


def test_openings_use_the_parent_else_the_training_prompt(tiny_persona):
    from studio.persona.registry import PersonaRegistry

    found = openings(judged_persona(PersonaRegistry()))
    assert [o.real for o in found] == [p["text"] for p in HELD_OUT]
    assert found[1].opening == HELD_OUT[0]["text"]  # replied to its own earlier post
    assert found[2].opening == "What do you do every afternoon?"  # the export's context
    assert all(o.opening in USER_PROMPTS for i, o in enumerate(found) if i not in (1, 2))
    assert openings(PersonaRegistry().get("tiny"))[0].opening == found[0].opening  # seeded: the same each time


def test_no_held_out_posts_is_a_clear_error(tiny_persona):
    write_jsonl(tiny_persona.path / "data" / "validation.jsonl", [])
    with pytest.raises(PersonaError, match="no held-out posts"):
        RealOrBot().next_round(RealOrBot().new_judge(), "tiny")


def test_pool_holds_real_generated_replies_and_rounds_show_both_sides(pooled):
    rob = pooled
    assert rob.pooled("tiny") >= 6  # a reply that is empty or the real post itself is left out
    judge = rob.new_judge()
    r = rob.next_round(judge, "tiny")
    reals = {o.real for o in rob.openings(rob.registry.get("tiny"))}
    assert (r.a in reals) != (r.b in reals) and r.a.strip() and r.b.strip()
    assert r.opening and r.number == 1
    assert not {"real", "real_side", "post_key"} & set(vars(r))  # nothing the page gets names the real side
    sides = {real_side(rob, rob.next_round(rob.new_judge(), "tiny")) for _ in range(24)}
    assert sides == {"a", "b"}  # drawn at random: 2 ** -23 to fail by chance


def test_a_judge_never_sees_the_same_real_post_twice(pooled):
    rob, judge = pooled, pooled.new_judge()
    shown = []
    for n in range(rob.pooled("tiny")):
        r = rob.next_round(judge, "tiny")
        shown.append(post_key(r.a if real_side(rob, r) == "a" else r.b))
        if n % 2:  # votes or not: a shown post stays shown
            rob.vote(judge, r.token, "a")
    assert len(set(shown)) == len(shown) == rob.pooled("tiny")
    with pytest.raises(NoMoreRounds, match="every post"):
        rob.next_round(judge, "tiny")
    assert rob.next_round(rob.new_judge(), "tiny").number == 1  # another judge starts afresh


def test_forged_foreign_replayed_voided_and_expired_votes_are_refused(pooled):
    now = [1000.0]
    rob = RealOrBot(pooled.path.parent, clock=lambda: now[0])
    alice, bob = rob.new_judge(), rob.new_judge()
    r = rob.next_round(alice, "tiny")
    with pytest.raises(PersonaError, match="not issued to you"):
        rob.vote(alice, "forged-" + r.token, "a")
    with pytest.raises(PersonaError, match="not issued to you"):
        rob.vote(bob, r.token, "a")  # alice's round
    with pytest.raises(PersonaError, match="not issued to you"):
        rob.vote("never-issued", r.token, "a")
    with pytest.raises(PersonaError, match="Pick 'a' or 'b'"):
        rob.vote(alice, r.token, "both")
    with pytest.raises(PersonaError, match="How sure"):
        rob.vote(alice, r.token, "a", sure=7)
    verdict = rob.vote(alice, r.token, "b", sure=2)
    assert verdict.judged == 1 and verdict.fooled == (verdict.real_side == "a")
    with pytest.raises(PersonaError, match="already voted on"):
        rob.vote(alice, r.token, "b")  # replay
    first, second = rob.next_round(alice, "tiny"), rob.next_round(alice, "tiny")
    with pytest.raises(PersonaError, match="closed"):
        rob.vote(alice, first.token, "a")  # voided by the next round: no shopping for an easy pair
    now[0] += rob.limits.round_ttl_s + 1
    with pytest.raises(PersonaError, match="expired"):
        rob.vote(alice, second.token, "a")
    with pytest.raises(PersonaError, match="Unknown judge"):
        rob.next_round("never-issued", "tiny")
    assert len(rob.votes("tiny")) == 1


def test_votes_are_rate_limited_per_judge(pooled):
    now = [5000.0]
    rob = RealOrBot(pooled.path.parent, limits=Limits(votes_per_window=3, window_s=60), clock=lambda: now[0])
    judge, other = rob.new_judge(), rob.new_judge()
    for _ in range(3):
        rob.vote(judge, rob.next_round(judge, "tiny").token, "a")
        now[0] += 1
    held = rob.next_round(judge, "tiny")
    with pytest.raises(PersonaError, match="Vote again in 57 s"):
        rob.vote(judge, held.token, "a")
    rob.vote(other, rob.next_round(other, "tiny").token, "a")  # another judge is not held back
    now[0] += 57
    assert rob.vote(judge, held.token, "a").judged == 4  # the held round stayed open


def test_new_judges_are_limited_per_client(rob):
    rob = RealOrBot(rob.path.parent, limits=Limits(judges_per_client_hour=2))
    rob.new_judge("10.0.0.1"), rob.new_judge("10.0.0.1")
    with pytest.raises(PersonaError, match="Too many new judges"):
        rob.new_judge("10.0.0.1")
    assert rob.known_judge(rob.new_judge("10.0.0.2")) and not rob.known_judge("made-up")


def test_fooled_rate_and_interval_on_planted_votes(pooled):
    rob = RealOrBot(pooled.path.parent, limits=Limits(votes_per_window=100))
    plan = {"j1": [True, False, False, True, False], "j2": [False, False, True, False, False]}  # 3 of 10 fooled
    for fooled in plan.values():
        judge = rob.new_judge()
        for i, wrong in enumerate(fooled):
            r = rob.next_round(judge, "tiny")
            side = real_side(rob, r)
            rob.vote(judge, r.token, ("b" if side == "a" else "a") if wrong else side, sure=3 if i == 0 else None)
    results = rob.results("tiny")
    overall = results["overall"]
    assert (overall["votes"], overall["fooled"], overall["rate"]) == (10, 3, 0.3)
    assert (overall["low"], overall["high"]) == (0.108, 0.603)  # Wilson 95 % for 3/10 (published tables)
    assert results["versions"] == {"tiny@v1": overall}
    assert results["judges"]["judge 1"]["fooled"] == 2 and results["judges"]["judge 2"]["fooled"] == 1
    assert results["certain"]["votes"] == 2 and results["certain"]["fooled"] == 1
    assert set(results["judges"]) == {"judge 1", "judge 2"}  # named by order, never by id


def test_wilson_interval_matches_known_values():
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(50, 100)
    assert round(low, 4) == 0.4038 and round(high, 4) == 0.5962
    low, high = wilson(3, 3)
    assert round(low, 4) == 0.4385 and high == 1.0  # 3 / (3 + z²)
    assert wilson(0, 10)[0] == 0.0 and round(wilson(0, 10)[1], 4) == 0.2775


def test_bradley_terry_recovers_planted_strengths():
    rng = random.Random(0)
    truth = {"a": 1.5, "b": 0.5, "c": 0.0, "d": -1.0}  # log strengths
    pairs = []
    names = list(truth)
    for _ in range(6000):
        x, y = rng.sample(names, 2)
        win = rng.random() < win_probability(truth[x], truth[y])
        pairs.append((x, y) if win else (y, x))
    fitted = bradley_terry(pairs, prior=0.0)
    assert [r["player"] for r in fitted] == ["a", "b", "c", "d"]
    scores = {r["player"]: r["score"] for r in fitted}
    mean = np.mean(list(scores.values())) - np.mean(list(truth.values()))
    for name in truth:
        assert abs(scores[name] - mean - truth[name]) < 0.15
    assert sum(r["games"] for r in fitted) == 2 * len(pairs)


def test_bradley_terry_keeps_an_unbeaten_player_finite():
    fitted = bradley_terry([("x", "y")] * 5)
    assert fitted[0]["player"] == "x" and 0 < fitted[0]["score"] < 5 and fitted[1]["score"] == -fitted[0]["score"]
    assert bradley_terry([]) == []


def test_ranking_joins_arena_votes_and_real_or_bot_votes(pooled):
    rob = RealOrBot(pooled.path.parent, limits=Limits(votes_per_window=100))
    arena = VoteStore(rob.path.parent)
    for _ in range(6):
        arena.record("tiny", [BASE])  # the current version beat the base model in blind votes
    arena.record(BASE, ["tiny"])
    arena.record("other", [BASE])  # another persona: not in this ranking
    judge = rob.new_judge()
    for _ in range(4):  # never fooled: the real posts win every real-or-bot vote
        r = rob.next_round(judge, "tiny")
        rob.vote(judge, r.token, real_side(rob, r))
    ranked = ranking("tiny", rob)
    assert [r["player"] for r in ranked] == [REAL, "tiny@v1", BASE]
    assert {r["player"]: r["games"] for r in ranked} == {REAL: 4, "tiny@v1": 11, BASE: 7}


def test_cli_prints_the_fooled_rate_and_ranking(pooled, capsys):
    from studio.cli.main import main

    assert main(["real-or-bot", "tiny"]) == 0
    assert "no real-or-bot votes yet" in capsys.readouterr().out
    judge = pooled.new_judge()
    r = pooled.next_round(judge, "tiny")
    pooled.vote(judge, r.token, "b" if real_side(pooled, r) == "a" else "a")  # fooled
    assert main(["real-or-bot", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "fooled 1 of 1 (100%, 95 % interval 21%-100%" in out and "tiny@v1 +" in out
    assert main(["real-or-bot", "nobody"]) == 2
