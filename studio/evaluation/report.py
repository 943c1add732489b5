"""The evaluation at a glance: verdicts with their thresholds, the one-line summary and a markdown section
(shown in the Personas tab and written into the model card: keys `summary` and `markdown`).

Style is read from the measures that work in any language first: the discriminator's AUC (can a
character n-gram classifier tell the replies from their posts?) and the character n-gram profile
distance (studio.evaluation.discriminator), then the habits per language (studio.evaluation.habits).
The sentence-embedding similarity is English-only: it is shown, labelled so, and decides nothing
while the discriminator has a figure.
"""

from __future__ import annotations

# thresholds; the README and THRESHOLDS below explain them
AUC_GLANCE = 0.9    # persona's AUC >= this: told apart at a glance; never "sounds like them"
AUC_CLOSE = 0.65    # persona's AUC <= this (or <= their own posts' floor + AUC_MARGIN): hard to tell apart
AUC_MARGIN = 0.1
AUC_GAIN = 0.1      # persona's AUC this far below the base model's: closer than the base model
NGRAM_CLOSE = 0.05  # persona's n-gram distance within this of their own posts' floor: the same profile
NGRAM_GAIN = 0.05   # this far below the base model's distance: closer than the base model
STYLE_CLOSE = 0.05  # embedding (English-only, used only without a discriminator figure)
STYLE_GAIN = 0.03
LANGUAGE_GAP = 0.2  # persona's share of texts in their main language this far below theirs: not their language
COPY_SOME = 0.05    # above 5% of replies copied: some copying
COPY_MANY = 0.20    # above 20%: copies a lot
KEPT_MOST = 0.9     # kept >= 90% of what the base model knew
KEPT_SOME = 0.7     # kept >= 70%
HABIT_SHARE = 0.1   # a language gets habit rows when some side writes at least this share of its texts in it

THRESHOLDS = f"""**How to read it.**
*Sounds like them* asks a classifier (character 1-3-grams, logistic regression, stratified k-fold
cross-validation) to tell the persona's replies from as many of their held-out posts: ROC AUC 0.5 = it cannot
tell them apart, 1.0 = it always can. At {AUC_GLANCE} or more they are *told apart at a glance* (the summary then
never says the persona sounds like them); at {AUC_CLOSE} or less (or within {AUC_MARGIN} of their own posts
against their other posts, "their posts") they are *hard to tell apart*; at least {AUC_GAIN} below the base
model's AUC is *closer than the base model*. It works in any language and needs no model. The *character
n-gram distance* (cosine distance of TF-IDF character 1-3-gram profiles, 0 = the same profile, 1 = nothing
shared) is the same profile when within {NGRAM_CLOSE} of their own posts' floor. The *embedding similarity*
(all-MiniLM-L6-v2) is English-only: it cannot tell Japanese from Japanese-looking noise. Habits per
language (です/ます share, full-width punctuation, emoji, kaomoji, line breaks, length distance) sit beside
their posts' own figures. *Copies them* is the share of replies that repeat a training post (verbatim, a common
substring of 30+ characters, near-duplicate wording, or mostly 12-character pieces of training posts); up to
{COPY_SOME:.0%} is fine, above {COPY_MANY:.0%} the persona recites rather than writes: train fewer steps or on more
posts. *Kept general knowledge* counts the probe questions the base model answered right that the persona still
answers right: {KEPT_MOST:.0%} or more is kept, below {KEPT_SOME:.0%} it forgot a lot: lower the learning rate, the
rank or the steps. *Knows their facts* counts the persona's own facts answered right in both the chat and a plain
prompt format."""


def auc_verdict(disc: dict) -> str | None:
    persona, base, real = disc.get("persona"), disc.get("base"), disc.get("real")
    if persona is None:
        return None
    if persona >= AUC_GLANCE:
        return "told apart at a glance"
    if persona <= AUC_CLOSE or (real is not None and persona <= real + AUC_MARGIN):
        return "hard to tell from their posts"
    if base is not None and persona <= base - AUC_GAIN:
        return "closer than the base model"
    return "no closer than the base model"


def ngram_verdict(ngram: dict) -> str | None:
    persona, base, real = ngram.get("persona"), ngram.get("base"), ngram.get("real")
    if persona is None:
        return None
    if real is not None and persona <= real + NGRAM_CLOSE:
        return "the same profile as their posts"
    if base is not None and persona <= base - NGRAM_GAIN:
        return "closer than the base model"
    return "no closer than the base model"


def embedding_verdict(similarity: dict) -> str | None:
    persona, base, real = similarity.get("persona"), similarity.get("base"), similarity.get("real")
    if persona is None:
        return None
    if persona >= real - STYLE_CLOSE:
        return "close to their posts"
    if base is not None and persona >= base + STYLE_GAIN:
        return "closer than the base model"
    return "no closer than the base model"


def main_language(habits: dict) -> tuple[str, dict] | None:
    """(language, its share per side) of the language most of their posts are in."""
    shares = [(table["share"].get("real") or 0, lang, table["share"]) for lang, table in (habits or {}).items()]
    best = max(shares, default=None)
    return (best[1], best[2]) if best and best[0] else None


def language_verdict(habits: dict) -> str | None:
    found = main_language(habits)
    if not found or found[1].get("persona") is None:
        return None
    lang, share = found
    words = f"{lang}: {share['persona']:.0%} of replies, {share['real']:.0%} of their posts"
    return f"writes in their language ({words})" if share["persona"] >= share["real"] - LANGUAGE_GAP else f"often not in their language ({words})"


def verdicts(result: dict) -> dict:
    """{"style", "n-gram profile", "language", "copying", "knowledge", "facts"}: each where its figures exist;
    "style (English embedding)" only when the discriminator has no figure."""
    style = result.get("style") or {}
    found = {
        "style": auc_verdict(style.get("discriminator") or {}),
        "n-gram profile": ngram_verdict(style.get("ngram") or {}),
        "language": language_verdict(style.get("habits") or {}),
    }
    if found["style"] is None:
        found["style (English embedding)"] = embedding_verdict(style.get("similarity") or {})
    copy_rate = (result.get("memorisation") or {}).get("copy_rate")
    if copy_rate is not None:
        found["copying"] = ("copies a lot" if copy_rate > COPY_MANY else
                            "some copying" if copy_rate > COPY_SOME else "writes its own")
    knowledge = result.get("knowledge")
    if knowledge and knowledge.get("known"):
        share = knowledge["kept"] / knowledge["known"]
        found["knowledge"] = "kept" if share >= KEPT_MOST else "some lost" if share >= KEPT_SOME else "forgot a lot"
    facts = result.get("facts")
    if facts and facts.get("asked"):
        found["facts"] = (f"knows {facts['persona_known']} of {facts['asked']} (the base model "
                          f"{facts['base_known']})")
    return {k: v for k, v in found.items() if v is not None}


def _pair(figures: dict, name: str, floor: str = "their own posts") -> str:
    base, real = figures.get("base"), figures.get("real")
    extra = [f"base {base:.2f}"] if base is not None else []
    extra += [f"{floor} {real:.2f}"] if real is not None else []
    return f"{name} {figures['persona']:.2f}" + (f" ({', '.join(extra)})" if extra else "")


def style_phrase(style: dict) -> str:
    """The summary's style part: the discriminator first, then the n-gram distance; the English-only
    embedding similarity only when neither has a figure."""
    disc, ngram, similarity = style.get("discriminator") or {}, style.get("ngram") or {}, style.get("similarity") or {}
    parts = []
    if disc.get("persona") is not None:
        verdict = auc_verdict(disc)
        lead = "no, told apart at a glance" if verdict == "told apart at a glance" else verdict
        parts.append(f"{lead}: a classifier tells replies from their posts at " + _pair(disc, "AUC"))
    if ngram.get("persona") is not None:
        parts.append(_pair(ngram, "n-gram distance", "their posts"))
    if not parts and similarity.get("persona") is not None:
        parts.append(_pair(similarity, "English-only embedding similarity", "their posts"))
    return "sounds like them: " + ("; ".join(parts) if parts else "n/a")


def summary_line(result: dict) -> str:
    memo, knowledge, facts = result.get("memorisation") or {}, result.get("knowledge"), result.get("facts")
    parts = [style_phrase(result.get("style") or {})]
    if memo.get("copy_rate") is not None:
        parts.append(f"copies them: {memo['copy_rate']:.0%} ({memo['copied']} of {memo['replies']})")
    if knowledge:
        parts.append(f"kept general knowledge: {knowledge['kept']} of {knowledge['known']}")
    if facts and facts.get("asked"):
        parts.append(f"knows their facts: {facts['persona_known']} of {facts['asked']} (base {facts['base_known']})")
    return " / ".join(parts)


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


HABIT_LABELS = {
    "share": "share of texts in {lang}", "polite_share": "{lang}: sentences in です/ます form",
    "fullwidth_punct_share": "{lang}: full-width share of punctuation", "emoji_per_text": "{lang}: emoji per text",
    "kaomoji_per_text": "{lang}: kaomoji and emoticons per text", "line_breaks_per_text": "{lang}: line breaks per text",
    "mean_chars": "{lang}: mean length (characters)", "length_distance": "{lang}: length distribution distance (KS, 0 = same)",
}


def _style_rows(style: dict) -> list[list]:
    rows = []
    disc, ngram = style.get("discriminator") or {}, style.get("ngram") or {}
    if disc.get("persona") is not None or disc.get("base") is not None:
        rows.append(["classifier AUC against their posts (0.5 = can't tell)", disc.get("base"), disc.get("persona"), disc.get("real")])
    if ngram:
        rows.append(["character n-gram distance to their posts (0 = same)", ngram.get("base"), ngram.get("persona"), ngram.get("real")])
    if style.get("similarity"):
        s = style["similarity"]
        rows.append(["embedding similarity to their posts (English-only)", s.get("base"), s.get("persona"), s.get("real")])
    for lang, table in (style.get("habits") or {}).items():
        if max((v for v in table.get("share", {}).values() if v is not None), default=0) < HABIT_SHARE:
            continue
        for key, label in HABIT_LABELS.items():
            if key in table and any(v is not None for v in table[key].values()):
                values = table[key]
                rows.append([label.format(lang=lang), values.get("base"), values.get("persona"), values.get("real")])
    stats = style.get("stats") or {}
    labels = [("share_with_emoji", "share with emoji"), ("exclamations_per_text", "'!' per text"),
              ("questions_per_text", "'?' per text"), ("hashtags_per_text", "hashtags per text")]
    if not style.get("habits"):  # an evaluation stored before the habits per language
        labels = [("mean_chars", "mean length (characters)"), *labels, ("share_japanese", "share in Japanese"),
                  ("ja_polite_share", "Japanese sentences in です/ます form")]
    for key, label in labels if stats else ():
        rows.append([label, stats["base"].get(key), stats["persona"].get(key), stats["real"].get(key)])
    return rows


def metrics_rows(result: dict) -> list[list]:
    """[measure, base, persona, their posts] rows: the table in the UI and in the markdown. The summary's
    measures come first (a long table shows only its first rows without scrolling), the style details last."""
    rows = []
    knowledge = result.get("knowledge")
    if knowledge:
        rows.append(["knowledge probe accuracy", knowledge["base_accuracy"], knowledge["persona_accuracy"], None])
    memo = result.get("memorisation") or {}
    if memo.get("copy_rate") is not None:
        rows.append(["replies copying a training post", memo.get("base_copy_rate"), memo["copy_rate"], None])
    facts = result.get("facts")
    if facts and facts.get("asked"):
        rows.append([f"their facts known, both formats (of {facts['asked']})", facts["base_known"], facts["persona_known"], None])
        for fmt, figures in (facts.get("by_format") or {}).items():
            rows.append([f"their facts known, {fmt} format", figures.get("base_known"), figures.get("persona_known"), None])
    loss = result.get("loss") or {}
    if loss.get("persona"):
        rows.append(["held-out loss (lower is better)", loss["base"]["loss"], loss["persona"]["loss"], None])
        rows.append(["held-out perplexity", loss["base"]["perplexity"], loss["persona"]["perplexity"], None])
    for k, figures in sorted((result.get("extraction") or {}).items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0):
        if isinstance(figures, dict) and "persona" in figures:
            rows.append([f"extraction rate: training posts completed from their first {k} tokens", figures.get("base"),
                         figures.get("persona"), None])
    return rows + _style_rows(result.get("style") or {})


def _words_lines(style: dict) -> list[str]:
    lines = []
    for lang, table in (style.get("habits") or {}).items():
        words = table.get("words") or {}
        if any(words.values()):
            lines.append(f"- {lang}: " + "; ".join(f"{k}: {', '.join(w) or '–'}" for k, w in words.items()))
    if not lines and style.get("words"):
        lines = ["- " + "; ".join(f"{k}: {', '.join(w) or '–'}" for k, w in style["words"].items())]
    return ["", "Most characteristic words:", *lines] if lines else []


def markdown(result: dict) -> str:
    lines = ["## Evaluation", "", f"**{result['summary']}**", ""]
    v = result.get("verdicts", {})
    if v:
        lines += ["Verdict: " + "; ".join(f"{k}: {x}" for k, x in v.items()) + ".", ""]
    lines += ["| measure | base model | persona | their posts |", "|---|---|---|---|"]
    lines += [f"| {m} | {_fmt(b)} | {_fmt(p)} | {_fmt(r)} |" for m, b, p, r in metrics_rows(result)]
    style = result.get("style") or {}
    lines += _words_lines(style)
    disc = style.get("discriminator") or {}
    if disc.get("reason"):
        lines += ["", f"Classifier: {disc['reason']}."]
    knowledge = result.get("knowledge")
    if knowledge and knowledge["lost"]:
        lost = [r for r in knowledge["rows"] if r["id"] in knowledge["lost"]]
        lines += ["", "Questions the persona lost: " + "; ".join(f"{r['question']} ({r['expected']})" for r in lost) + "."]
    samples = [s for s in result.get("samples", []) if s["copied"]][:3]
    if samples:
        lines += ["", "Copied replies (reply → nearest training post):"]
        lines += [f"- {s['persona'][:120]!r} → {s['nearest'][:120]!r} ({', '.join(s['reasons'])})" for s in samples]
    c = result.get("config", {})
    lines += ["", f"{c.get('prompts')} prompts (English and Japanese), seed {c.get('seed')}, replies up to "
              f"{c.get('max_new_tokens')} tokens; {result.get('reference', '')}; evaluated {result.get('created_at', '')} "
              f"in {result.get('seconds', 0):.0f} s.", "", THRESHOLDS]
    return "\n".join(lines)


def finish(result: dict) -> dict:
    """Verdicts, summary line and markdown of `result`, from its figures (after a stage changed, too)."""
    result["verdicts"] = verdicts(result)
    result["summary"] = summary_line(result)
    result["markdown"] = markdown(result)
    return result
