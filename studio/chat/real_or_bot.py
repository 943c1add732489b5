"""Real or bot? A judge sees one of the person's real held-out posts and one persona reply written for the same
opening, in random order, and picks the real one. No gradio here: the page (studio/ui/real_or_bot_tab.py), the
bench and the tests call these directly.

What a round is: an opening (the text the real post answered, where the export has it, else the prompt the
persona's training drew for that post: `chat_format.user_turn` with the validation split's seed), the real
post, and a reply of the persona version to that opening, taken from a pool generated ahead with the chat
engine (`fill_pool`), so that a round costs a lookup, not a generation.

Why it cannot be gamed from the page: which side is real lives only here (SQLite, beside the arena's votes);
the page gets the two texts and a round token. A token is random (`secrets`), stored only as its SHA-256,
bound to its judge, valid once and for `round_ttl_s`; a judge has one open round at a time (starting another
voids the first). Judges are ids this module issued (a vote from an id it never issued is refused), at most
`votes_per_window` votes per `window_s` each. A judge never sees the same real post twice: every post a
round showed is theirs for good, voted on or not."""

from __future__ import annotations

import contextlib
import hashlib
import random
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from studio.chat.arena import VoteStore
from studio.chat.config import GenerationConfig
from studio.chat.engine import BASE, Row
from studio.chat.rating import bradley_terry, wilson
from studio.chat.targets import resolve_target
from studio.chat_format import user_turn
from studio.config import personas_dir
from studio.errors import PersonaError
from studio.files import read_jsonl
from studio.ingest import Post
from studio.persona.registry import Persona, PersonaRegistry, version_ref

STORE_FILE = ".real_or_bot.sqlite"
SIDES = ("a", "b")
SURE = {1: "guessing", 2: "fairly sure", 3: "certain"}
POOL_BATCH = 8
SCHEMA = """
CREATE TABLE IF NOT EXISTS judges (id TEXT PRIMARY KEY, created REAL NOT NULL, client TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS pool (version TEXT NOT NULL, post_key TEXT NOT NULL, reply TEXT, created REAL NOT NULL,
    PRIMARY KEY (version, post_key));
CREATE TABLE IF NOT EXISTS rounds (token_hash TEXT PRIMARY KEY, judge TEXT NOT NULL, version TEXT NOT NULL,
    post_key TEXT NOT NULL, real_side TEXT NOT NULL, issued REAL NOT NULL, state TEXT NOT NULL DEFAULT 'open');
CREATE INDEX IF NOT EXISTS rounds_judge ON rounds (judge, state);
CREATE TABLE IF NOT EXISTS votes (id INTEGER PRIMARY KEY, at REAL NOT NULL, judge TEXT NOT NULL, version TEXT NOT NULL,
    post_key TEXT NOT NULL, fooled INTEGER NOT NULL, sure INTEGER);
CREATE INDEX IF NOT EXISTS votes_judge ON votes (judge, at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class NoMoreRounds(PersonaError):
    """The judge has seen every held-out post of this persona."""


@dataclass
class Limits:
    """Abuse limits of the page."""

    votes_per_window: int = 10  # a judge reads two posts a round: 10 a minute is quick reading
    window_s: float = 60.0
    round_ttl_s: float = 3600.0
    judges_per_client_hour: int = 60  # new judge ids one client address may ask for in an hour


@dataclass
class Opening:
    """One held-out post and what it answered."""

    post_key: str
    opening: str
    real: str


@dataclass
class Round:
    """What the page may show: nothing here says which side is real."""

    token: str
    opening: str
    a: str
    b: str
    number: int  # this judge's round number on this persona


@dataclass
class Verdict:
    real_side: str
    fooled: bool
    judged: int  # this judge's votes on this persona so far
    spotted: int


def post_key(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:20]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def openings(persona: Persona) -> list[Opening]:
    """The persona's held-out posts (data/validation.jsonl) with the opening each answers: its parent where
    the export has it, else the training prompt drawn for it (the validation examples' seed: train seed + 1)."""
    data = persona.path / "data"
    held_out = [Post.from_dict(r) for r in read_jsonl(data / "validation.jsonl")] if (data / "validation.jsonl").is_file() else []
    trained = [Post.from_dict(r) for r in read_jsonl(data / "train.jsonl")] if (data / "train.jsonl").is_file() else []
    parents = {p.id: p.text for p in trained + held_out if p.id}
    rng = random.Random(int(persona.train.get("seed", 0) or 0) + 1)
    found, keys = [], set()
    for post in held_out:
        opening = user_turn(post, parents, rng)
        key = post_key(post.text)
        if post.text.strip() and key not in keys:
            keys.add(key)
            found.append(Opening(key, opening, post.text.strip()))
    if not found:
        raise PersonaError(f"Persona {persona.slug!r} has no held-out posts (data/validation.jsonl is empty), so there "
                           "is nothing real to show. Retrain it with a validation fraction above 0.")
    return found


def version_of(persona: Persona) -> str:
    """The version a vote is stored under: always `NAME@vN`, so a retrain starts a fresh count."""
    return version_ref(persona.base_slug, persona.version)


class RealOrBot:
    """The store of judges, reply pools, rounds and votes (one SQLite file in the registry folder)."""

    def __init__(self, root: str | Path | None = None, limits: Limits | None = None,
                 registry: PersonaRegistry | None = None, clock=time.time):
        root = Path(root) if root is not None else personas_dir()
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / STORE_FILE
        self.limits = limits or Limits()
        self.registry = registry or PersonaRegistry(root)
        self.clock = clock
        self._openings: dict[str, tuple[float, list[Opening]]] = {}
        self._fill_lock = threading.Lock()
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # judges read while another votes
            db.executescript(SCHEMA)
            with db:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_urlsafe(24),))
        finally:
            db.close()

    @contextlib.contextmanager
    def _connect(self):
        """One transaction, taken for writing at once (BEGIN IMMEDIATE): a check and the write it allows
        (a token's single use, the rate limit) cannot interleave with another judge's."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def secret(self) -> str:
        """A random secret kept in the store (the page's browser-state encryption key: judges survive a restart)."""
        with self._connect() as db:
            return db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0]

    # judges
    def new_judge(self, client: str = "") -> str:
        now = self.clock()
        with self._connect() as db:
            if client:
                recent = db.execute("SELECT COUNT(*) FROM judges WHERE client = ? AND created > ?",
                                    (client, now - 3600)).fetchone()[0]
                if recent >= self.limits.judges_per_client_hour:
                    raise PersonaError("Too many new judges from this address in the last hour: keep judging in the "
                                       "same browser, or come back later.")
            judge = secrets.token_urlsafe(16)
            db.execute("INSERT INTO judges VALUES (?, ?, ?)", (judge, now, client))
        return judge

    def known_judge(self, judge: str | None) -> bool:
        if not judge or not isinstance(judge, str):
            return False
        with self._connect() as db:
            return db.execute("SELECT 1 FROM judges WHERE id = ?", (judge,)).fetchone() is not None

    # the pool of persona replies
    def openings(self, persona: Persona) -> list[Opening]:
        """`openings(persona)`, cached per version while the data file is unchanged."""
        file = persona.path / "data" / "validation.jsonl"
        stamp = file.stat().st_mtime if file.is_file() else 0.0
        cached = self._openings.get(version_of(persona))
        if cached is None or cached[0] != stamp:
            cached = (stamp, openings(persona))
            self._openings[version_of(persona)] = cached
        return cached[1]

    def pooled(self, ref: str) -> int:
        """Replies ready for rounds of `ref` (a persona or `NAME@vN`)."""
        version = version_of(self.registry.get(ref))
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM pool WHERE version = ? AND reply IS NOT NULL", (version,)).fetchone()[0]

    def fill_pool(self, ref: str, limit: int | None = None, settings: GenerationConfig | None = None,
                  keys: list[str] | None = None) -> int:
        """Generate the persona's reply to every held-out opening that has none yet (at most `limit` new ones),
        in batches on the chat engine. A reply that is empty or the real post itself (memorised) is kept as
        unusable, so that post is left out of rounds rather than giving itself away. Returns replies added."""
        engine, persona = resolve_target(ref, self.registry)
        version = version_of(persona)
        settings = settings or GenerationConfig()
        with self._fill_lock:  # two fills of one version would generate the same replies twice
            with self._connect() as db:
                done = {k for (k,) in db.execute("SELECT post_key FROM pool WHERE version = ?", (version,))}
            todo = [o for o in self.openings(persona) if o.post_key not in done and (keys is None or o.post_key in keys)]
            todo = todo[:limit] if limit is not None else todo
            added = 0
            for start in range(0, len(todo), POOL_BATCH):
                chunk = todo[start:start + POOL_BATCH]
                rows = [Row.make(persona, o.opening, persona.system_prompt or None, None, settings) for o in chunk]
                texts = [""] * len(rows)
                for texts in engine.stream_batch(rows):
                    pass
                with self._connect() as db:
                    for o, text in zip(chunk, texts):
                        usable = text.strip() and post_key(text) != o.post_key
                        db.execute("INSERT OR IGNORE INTO pool VALUES (?, ?, ?, ?)",
                                   (version, o.post_key, text.strip() if usable else None, self.clock()))
                        added += bool(usable)
            return added

    # rounds and votes
    def next_round(self, judge: str, ref: str) -> Round:
        """A new round for `judge` on `ref`: a held-out post this judge has never been shown, beside the persona's
        reply to its opening, sides drawn at random. Voids the judge's open round, if any."""
        if not self.known_judge(judge):
            raise PersonaError("Unknown judge: reload the page to start judging.")
        persona = self.registry.get(ref)
        version = version_of(persona)
        by_key = {o.post_key: o for o in self.openings(persona)}
        with self._connect() as db:
            seen = {k for (k,) in db.execute("SELECT post_key FROM rounds WHERE judge = ?", (judge,))}
            pool = dict(db.execute("SELECT post_key, reply FROM pool WHERE version = ?", (version,)).fetchall())
        unseen = [k for k in by_key if k not in seen and (k not in pool or pool[k] is not None)]
        if not unseen:
            raise NoMoreRounds(f"You have judged every post we can show for {persona.name}: thank you!")
        ready = [k for k in unseen if pool.get(k)]
        if not ready:  # the pool ran dry: write one reply now (slower; fill_pool ahead keeps rounds instant)
            self.fill_pool(ref, limit=1, keys=unseen)
            return self.next_round(judge, ref)
        key = secrets.choice(ready)
        real_side = secrets.choice(SIDES)
        token = secrets.token_urlsafe(24)
        real, bot = by_key[key].real, pool[key]
        with self._connect() as db:
            db.execute("UPDATE rounds SET state = 'void' WHERE judge = ? AND state = 'open'", (judge,))
            db.execute("INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?, 'open')",
                       (_hash(token), judge, version, key, real_side, self.clock()))
            number = db.execute("SELECT COUNT(*) FROM rounds WHERE judge = ? AND version GLOB ?",
                                (judge, f"{persona.base_slug}@v*")).fetchone()[0]
        a, b = (real, bot) if real_side == "a" else (bot, real)
        return Round(token=token, opening=by_key[key].opening, a=a, b=b, number=number)

    def vote(self, judge: str, token: str, pick: str, sure: int | None = None) -> Verdict:
        """Record `judge`'s pick ('a' or 'b': the side they think is real) for the round of `token`.
        Refused: a token this store did not issue to this judge, one already used or voided or expired,
        and a judge over the rate limit (the round then stays open: vote again after the wait)."""
        pick = (pick or "").strip().lower()
        if pick not in SIDES:
            raise PersonaError(f"Pick 'a' or 'b' (the side you think is real), not {pick!r}.")
        if sure not in (None, *SURE):
            raise PersonaError(f"How sure must be one of {sorted(SURE)} ({', '.join(SURE.values())}) or empty, not {sure!r}.")
        now = self.clock()
        with self._connect() as db:
            row = db.execute("SELECT judge, version, post_key, real_side, issued, state FROM rounds WHERE token_hash = ?",
                             (_hash(token or ""),)).fetchone()
            if row is None or row[0] != judge:
                raise PersonaError("This vote's round was not issued to you by this page: start a new round.")
            _, version, key, real_side, issued, state = row
            if state != "open":
                raise PersonaError("This round is already " + ("voted on" if state == "voted" else "closed (you started "
                                   "another)") + ": each round takes one vote. Start a new round.")
            if now - issued > self.limits.round_ttl_s:
                raise PersonaError("This round has expired: start a new round.")
            recent = db.execute("SELECT MIN(at), COUNT(*) FROM votes WHERE judge = ? AND at > ?",
                                (judge, now - self.limits.window_s)).fetchone()
            if recent[1] >= self.limits.votes_per_window:
                wait = max(1, int(recent[0] + self.limits.window_s - now + 0.999))
                raise PersonaError(f"Slow down: at most {self.limits.votes_per_window} votes a "
                                   f"{self.limits.window_s:g} s. Vote again in {wait} s.")
            db.execute("UPDATE rounds SET state = 'voted' WHERE token_hash = ?", (_hash(token),))
            fooled = pick != real_side
            db.execute("INSERT INTO votes (at, judge, version, post_key, fooled, sure) VALUES (?, ?, ?, ?, ?, ?)",
                       (now, judge, version, key, int(fooled), sure))
            judged, wrong = db.execute("SELECT COUNT(*), COALESCE(SUM(fooled), 0) FROM votes WHERE judge = ? AND version GLOB ?",
                                       (judge, version.rsplit("@v", 1)[0] + "@v*")).fetchone()
        return Verdict(real_side=real_side, fooled=fooled, judged=judged, spotted=judged - wrong)

    # results (the owner's view: the Personas tab)
    def votes(self, slug: str) -> list[dict]:
        """Every vote on any version of `slug`: version, judge, fooled, sure, at."""
        with self._connect() as db:
            rows = db.execute("SELECT version, judge, fooled, sure, at FROM votes WHERE version GLOB ? ORDER BY at",
                              (f"{slug}@v*",)).fetchall()
        return [{"version": v, "judge": j, "fooled": bool(f), "sure": s, "at": a} for v, j, f, s, a in rows]

    def results(self, slug: str) -> dict:
        """Fooled rates of one persona: per version and per judge (judges named by the order of their first vote,
        never by id), each with its 95 % Wilson interval. About 50 % fooled: the judges cannot tell."""
        votes = self.votes(slug)
        judges: dict[str, str] = {}
        for v in votes:
            judges.setdefault(v["judge"], f"judge {len(judges) + 1}")
        return {"overall": fooled_rate(votes),
                "versions": {ver: fooled_rate([v for v in votes if v["version"] == ver])
                             for ver in sorted({v["version"] for v in votes})},
                "judges": {label: fooled_rate([v for v in votes if v["judge"] == judge]) for judge, label in judges.items()},
                "certain": fooled_rate([v for v in votes if v["sure"] == 3])}


def fooled_rate(votes: list[dict]) -> dict:
    n, fooled = len(votes), sum(v["fooled"] for v in votes)
    low, high = wilson(fooled, n)
    return {"votes": n, "fooled": fooled, "rate": round(fooled / n, 3) if n else None,
            "low": round(low, 3), "high": round(high, 3)}


REAL = "real posts"
"""The ranking's player for the person's own held-out posts: a version that fools a judge beats it."""


def ranking(slug: str, store: RealOrBot | None = None, arena_pairs: list[tuple[str, str]] | None = None) -> list[dict]:
    """A Bradley-Terry ranking of `slug`'s versions, the base model and the real posts, from the arena's blind
    votes (those between these players) and the real-or-bot votes together. An arena vote names the current
    persona by its bare slug: it counts for the version that is current now."""
    store = store or RealOrBot()
    versions = store.registry.versions(slug)
    current = version_of(versions[0])
    players = {version_of(p) for p in versions} | {BASE}
    pairs = []
    for winner, loser in (VoteStore(store.path.parent).pairs() if arena_pairs is None else arena_pairs):
        winner, loser = (current if t == slug else t for t in (winner, loser))
        if winner in players and loser in players:
            pairs.append((winner, loser))
    pairs += [(v["version"], REAL) if v["fooled"] else (REAL, v["version"]) for v in store.votes(slug)]
    return bradley_terry(pairs)
