"""Cross-user batching on the local engine: calls of different sessions that wait while a batch runs share
the next one, each row getting what it gets alone (greedy and seeded sampling, a tiny real model and a real
trained adapter); the queue serves sessions in turn under a row cap."""

import queue
import threading

import pytest

from studio.chat.config import GenerationConfig
from studio.chat.engine import ChatEngine, FairQueue, Row, _Job, batch_settings
from studio.chat_format import chat_messages
from studio.errors import PersonaError


def job(session, rows: int, tag: str) -> _Job:
    made = _Job([tag] * rows, queue.Queue(), [])
    made.session, made.tag = session, tag
    return made


def tags(batch) -> list[str]:
    return [j.tag for j in batch]


def test_the_queue_serves_sessions_in_turn_under_the_row_cap():
    """One user with three 3-pane calls waiting cannot keep a 1-pane user out of the next batch."""
    line = FairQueue()
    for k in range(3):
        line.put(job("a", 3, f"a{k}"))
    line.put(job("b", 1, "b0"))
    line.put(job("c", 2, "c0"))
    assert tags(line.take(max_rows=6)) == ["a0", "b0", "c0"]  # one call of each session first: 3 + 1 + 2 rows
    assert tags(line.take(max_rows=6)) == ["a1", "a2"]
    assert len(line) == 0 and line.take(6, timeout=0.01) == []


def test_a_call_wider_than_the_cap_runs_alone_and_sharing_off_is_one_call_a_batch():
    line = FairQueue()
    line.put(job("a", 5, "wide"))
    line.put(job("b", 1, "b0"))
    assert tags(line.take(max_rows=4)) == ["wide"]  # the first call always goes; calls are never split
    for tag, session in (("a0", "a"), ("a1", "a"), ("c0", "c")):
        line.put(job(session, 1, tag))
    assert [tags(line.take(12, share=False)) for _ in range(4)] == [["b0"], ["a0"], ["c0"], ["a1"]]


def test_anonymous_calls_are_each_their_own_session():
    line = FairQueue()
    for k in range(3):
        line.put(job(None, 1, f"x{k}"))
    assert tags(line.take(max_rows=2)) == ["x0", "x1"]


def test_batch_settings_from_the_environment(monkeypatch):
    assert batch_settings() == (20, True)
    monkeypatch.setenv("STUDIO_CHAT_BATCH_ROWS", "4")
    monkeypatch.setenv("STUDIO_CHAT_SHARE_BATCHES", "0")
    assert batch_settings() == (4, False)
    monkeypatch.setenv("STUDIO_CHAT_BATCH_ROWS", "lots")
    with pytest.raises(PersonaError, match="STUDIO_CHAT_BATCH_ROWS must be a whole number from 1 to 512, got 'lots'; unset it for 20"):
        batch_settings()
    from studio.config import env_count

    assert env_count("STUDIO_CHAT_CONCURRENCY", 20) == 20
    monkeypatch.setenv("STUDIO_CHAT_CONCURRENCY", "0")
    with pytest.raises(PersonaError, match="STUDIO_CHAT_CONCURRENCY must be a whole number from 1 to 512, got '0'"):
        env_count("STUDIO_CHAT_CONCURRENCY", 20)


@pytest.fixture
def engine(tiny_model_dir):
    return ChatEngine(str(tiny_model_dir))


def test_two_sessions_in_one_batch_each_get_what_they_get_alone(engine, tiny_persona, monkeypatch):
    greedy = GenerationConfig(max_new_tokens=12, greedy=True)
    sampled = GenerationConfig(max_new_tokens=12, temperature=1.0, top_k=0, top_p=1.0)
    calls = {"A": [Row(tiny_persona, chat_messages("S", "hello there"), greedy, 0),
                   Row(None, chat_messages("S", "what now?"), sampled, 7)],
             "B": [Row(None, chat_messages("You are B.", "hi"), greedy, 0),
                   Row(tiny_persona, chat_messages("S", "hello"), sampled, 11)]}
    alone = {who: [list(engine.stream_batch([row]))[-1][0] for row in rows] for who, rows in calls.items()}
    widths, generate = [], engine.model.generate
    monkeypatch.setattr(engine.model, "generate", lambda *a, **k: widths.append(k["input_ids"].shape[0]) or generate(*a, **k))
    results, streamed = {}, {}

    def user(who):
        updates = list(engine.stream_batch(calls[who], session=who))
        results[who], streamed[who] = updates[-1], len(updates)

    blocker = threading.Thread(target=lambda: list(engine.stream_batch([calls["A"][0]], session="other")))
    with engine.exclusive(tiny_persona):  # the worker waits on this batch's lock while both sessions queue up
        blocker.start()
        while len(engine._pending):  # the worker took the blocker
            threading.Event().wait(0.01)
        users = [threading.Thread(target=user, args=(who,)) for who in calls]
        for t in users:
            t.start()
        while len(engine._pending) < 2:
            threading.Event().wait(0.01)
    for t in [blocker, *users]:
        t.join(timeout=120)
    assert widths == [1, 4], "the two sessions' calls ran as one batch of 4 rows"
    assert results == alone
    assert all(n > 2 for n in streamed.values()), "each caller still streams step by step"
    assert any(alone["A"][0] != text for text in alone["B"]), "the rows' replies differ: routing is exercised"
