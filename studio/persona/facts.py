"""A persona's own facts: questions about the person with the answers they would give, written by the user.

    persona.json  "facts": [{"question": "趣味は？", "answers": ["アニメ", "ドライブ", "麻雀"]}, ...]

Stored with the persona (kept when it is retrained, like the system prompt) and asked by the evaluation
(studio.evaluation.facts) in the chat format and in a plain instruction format, base model against persona.
An answer counts when the reply contains any one of the answers (the probe's rule). Files: JSON Lines
(one {"question": ..., "answers": [...]} a line; "answers" may also be one string "A1; A2"), CSV (columns
question, answers; a header row is optional) or a JSON list of such objects.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from studio.errors import InputError

MAX_FACTS = 200
MAX_QUESTION = 300
MAX_ANSWER = 200
MAX_ANSWERS = 20
SEPARATORS = re.compile(r"[;；]")


def split_answers(text: str) -> list[str]:
    """'アニメ; ドライブ；麻雀' -> ['アニメ', 'ドライブ', '麻雀'] (';' or the full-width '；' between answers)."""
    return [a.strip() for a in SEPARATORS.split(text or "") if a.strip()]


def check_fact(question, answers, where: str = "") -> dict:
    """One fact, cleaned and checked: a non-empty question, 1-20 non-empty answers, each within the size limits."""
    at = f"{where}: " if where else ""
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"{at}a fact needs a question (e.g. '趣味は？'); this one is empty.")
    question = question.strip()
    if len(question) > MAX_QUESTION:
        raise InputError(f"{at}the question {question[:40]!r}... is {len(question)} characters; keep it under {MAX_QUESTION}.")
    if isinstance(answers, str):
        answers = split_answers(answers)
    if not isinstance(answers, (list, tuple)) or not all(isinstance(a, str) for a in answers):
        raise InputError(f"{at}the answers to {question!r} must be text: a list, or one string such as 'A1; A2'.")
    answers = [a.strip() for a in answers if a.strip()]
    if not answers:
        raise InputError(f"{at}the question {question!r} has no answer: give at least one (several with ';' between them).")
    if len(answers) > MAX_ANSWERS:
        raise InputError(f"{at}the question {question!r} has {len(answers)} answers; keep it to {MAX_ANSWERS}.")
    for answer in answers:
        if len(answer) > MAX_ANSWER:
            raise InputError(f"{at}an answer to {question!r} is {len(answer)} characters; keep answers under {MAX_ANSWER} "
                             "(a reply counts when it contains one of them, so short answers work best).")
    return {"question": question, "answers": list(dict.fromkeys(answers))}


def check_facts(facts) -> list[dict]:
    """A whole list of facts, each checked; at most MAX_FACTS, no question twice."""
    if facts is None:
        return []
    if not isinstance(facts, list):
        raise InputError("Facts must be a list of {'question': ..., 'answers': [...]} objects.")
    if len(facts) > MAX_FACTS:
        raise InputError(f"{len(facts)} facts is too many: keep it to {MAX_FACTS} (each is asked in every evaluation).")
    checked, seen = [], set()
    for i, fact in enumerate(facts, 1):
        if not isinstance(fact, dict):
            raise InputError(f"fact {i}: expected an object with 'question' and 'answers', got {type(fact).__name__}.")
        item = check_fact(fact.get("question"), fact.get("answers"), f"fact {i}")
        if item["question"] in seen:
            raise InputError(f"fact {i}: the question {item['question']!r} is there twice; merge their answers.")
        seen.add(item["question"])
        checked.append(item)
    return checked


def read_facts(path: str | Path) -> list[dict]:
    """Facts from a .jsonl, .json or .csv file (see the module docstring), checked."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the facts file {path}: {exc}.") from exc
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return check_facts(_csv_facts(text, path))
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".jsonl":
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            raise InputError(f"{path}: facts files are .jsonl, .json or .csv (question, answers).")
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}). Write one {{\"question\": ..., \"answers\": [...]}} a line.") from exc
    return check_facts(data)


def _csv_facts(text: str, path: Path) -> list[dict]:
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["question", "answers"]:
        rows = rows[1:]
    facts = []
    for n, row in enumerate(rows, 1):
        if len(row) < 2:
            raise InputError(f"{path}, row {n}: expected two columns, question and answers ('A1; A2').")
        facts.append({"question": row[0], "answers": ";".join(row[1:])})
    return facts


def add_fact(facts: list[dict], question: str, answers) -> list[dict]:
    """The facts with one more (or with the answers of an existing question replaced)."""
    fact = check_fact(question, answers)
    kept = [f for f in facts if f["question"] != fact["question"]]
    return check_facts(kept + [fact])


def remove_fact(facts: list[dict], number: int) -> list[dict]:
    """The facts without fact `number` (1-based, as `--list` shows them)."""
    if not 1 <= number <= len(facts):
        raise InputError(f"There is no fact {number}: the persona has {len(facts)} (see --list).")
    return facts[:number - 1] + facts[number:]


def table(facts: list[dict]) -> list[list[str]]:
    """[question, 'A1; A2'] rows (the Personas tab's editor)."""
    return [[f["question"], "; ".join(f["answers"])] for f in facts]


def from_table(rows) -> list[dict]:
    """Facts from the editor's rows; rows with neither a question nor answers are dropped."""
    facts = []
    for n, row in enumerate(rows or [], 1):
        question, answers = (list(row) + ["", ""])[:2]
        question, answers = str(question or "").strip(), str(answers or "").strip()
        if question or answers:
            facts.append(check_fact(question, answers, f"row {n}"))
    return check_facts(facts)
