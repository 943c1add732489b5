"""A new persona's default system prompt: 'You are NAME.' and one line, from their posts and in their main
language, that names how they write. The seed study's own fix (a one-line prompt, "answer in plain form", set the
register), and measured here (README, Retention): "Reply like one of your tweets: one short, casual line." made
the persona's replies harder to tell from his posts at the same knowledge kept."""

from __future__ import annotations

from statistics import median

from studio.chat_format import default_system_prompt
from studio.evaluation.habits import language, polite_share

SHORT_POST_CHARS = 140  # a median post this long or shorter is "one short line"
SAMPLE = 2000  # posts looked at (the train split is already shuffled)


def default_prompt(name: str, texts: list[str] | None = None) -> str:
    """'You are NAME.' alone without posts; else with the style line. Japanese posts (most of them) get their own
    form: plain (普通体) or polite (です・ます) by which ending most of their sentences take."""
    if not texts:
        return default_system_prompt(name)
    sample = texts[:SAMPLE]
    languages = [language(t) for t in sample]
    short = median(len(t) for t in sample) <= SHORT_POST_CHARS
    if languages.count("ja") > len(sample) / 2:
        japanese = [t for t, lang in zip(sample, languages) if lang == "ja"]
        form = "です・ます調" if (polite_share(japanese) or 0) >= 0.5 else "普通体"
        return f"あなたは{name}です。いつもの投稿のように、{'短い一言で、' if short else ''}{form}で返してください。"
    shape = "one short, casual line" if short else "in your own words and length"
    return f"{default_system_prompt(name)} Reply like one of your posts: {shape}."
