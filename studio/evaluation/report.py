"""The evaluation at a glance: verdicts with their thresholds, the one-line summary and a markdown section
(shown in the Personas tab and written into the model card: keys `summary` and `markdown`)."""

from __future__ import annotations

# thresholds; the README and the markdown below explain them
STYLE_CLOSE = 0.05  # persona within this of their own posts' similarity: sounds like them
STYLE_GAIN = 0.03   # persona this far above the base model: closer than the base model
COPY_SOME = 0.05    # above 5% of replies copied: some copying
COPY_MANY = 0.20    # above 20%: copies a lot
KEPT_MOST = 0.9     # kept >= 90% of what the base model knew
KEPT_SOME = 0.7     # kept >= 70%

THRESHOLDS = f"""**How to read it.**
*Sounds like them* is the mean cosine similarity (all-MiniLM-L6-v2 sentence embeddings) of the persona's replies
to the centroid of half of their held-out posts; the other half of their own posts scores the ceiling ("real").
Close: within {STYLE_CLOSE} of the real posts; closer than base: at least {STYLE_GAIN} above the base model
given the same prompt. *Copies them* is the share of replies that repeat a training post (verbatim, a common
substring of 30+ characters, near-duplicate wording, or mostly 12-character pieces of training posts); up to
{COPY_SOME:.0%} is fine, above {COPY_MANY:.0%} the persona recites rather than writes: train fewer steps or on more
posts. *Kept general knowledge* counts the probe questions the base model answered right that the persona still
answers right: {KEPT_MOST:.0%} or more is kept, below {KEPT_SOME:.0%} it forgot a lot: lower the learning rate, the
rank or the steps."""


def verdicts(style: dict | None, copy_rate: float | None, knowledge: dict | None) -> dict:
    result = {}
    if style and style.get("persona") is not None:
        persona, base, real = style["persona"], style.get("base"), style["real"]
        if persona >= real - STYLE_CLOSE:
            result["style"] = "close to their posts"
        elif base is not None and persona >= base + STYLE_GAIN:
            result["style"] = "closer than the base model"
        else:
            result["style"] = "no closer than the base model"
    if copy_rate is not None:
        result["copying"] = ("copies a lot" if copy_rate > COPY_MANY else
                             "some copying" if copy_rate > COPY_SOME else "writes its own")
    if knowledge and knowledge.get("known"):
        share = knowledge["kept"] / knowledge["known"]
        result["knowledge"] = "kept" if share >= KEPT_MOST else "some lost" if share >= KEPT_SOME else "forgot a lot"
    return result


def summary_line(result: dict) -> str:
    style, memo, knowledge = result.get("style", {}).get("similarity"), result.get("memorisation", {}), result.get("knowledge")
    parts = []
    if style and style.get("persona") is not None:
        parts.append(f"sounds like them: {style['persona']:.2f} (base {style['base']:.2f}, their posts {style['real']:.2f})")
    else:
        parts.append("sounds like them: n/a")
    if memo.get("copy_rate") is not None:
        parts.append(f"copies them: {memo['copy_rate']:.0%} ({memo['copied']} of {memo['replies']})")
    if knowledge:
        parts.append(f"kept general knowledge: {knowledge['kept']} of {knowledge['known']}")
    return " / ".join(parts)


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def metrics_rows(result: dict) -> list[list]:
    """[measure, base, persona, their posts] rows: the table in the UI and in the markdown."""
    rows = []
    loss = result.get("loss") or {}
    if loss.get("persona"):
        rows.append(["held-out loss (lower is better)", loss["base"]["loss"], loss["persona"]["loss"], None])
        rows.append(["held-out perplexity", loss["base"]["perplexity"], loss["persona"]["perplexity"], None])
    style = result.get("style") or {}
    if style.get("similarity"):
        s = style["similarity"]
        rows.append(["style similarity to their posts", s.get("base"), s.get("persona"), s.get("real")])
    stats = style.get("stats") or {}
    labels = [("mean_chars", "mean length (characters)"), ("share_with_emoji", "share with emoji"),
              ("exclamations_per_text", "'!' per text"), ("questions_per_text", "'?' per text"),
              ("hashtags_per_text", "hashtags per text"), ("share_japanese", "share in Japanese"),
              ("ja_polite_share", "Japanese sentences in です/ます form")]
    for key, label in labels:
        if stats:
            rows.append([label, stats["base"].get(key), stats["persona"].get(key), stats["real"].get(key)])
    memo = result.get("memorisation") or {}
    if memo.get("copy_rate") is not None:
        rows.append(["replies copying a training post", memo.get("base_copy_rate"), memo["copy_rate"], None])
    knowledge = result.get("knowledge")
    if knowledge:
        rows.append(["knowledge probe accuracy", knowledge["base_accuracy"], knowledge["persona_accuracy"], None])
    return rows


def markdown(result: dict) -> str:
    lines = ["## Evaluation", "", f"**{result['summary']}**", ""]
    v = result.get("verdicts", {})
    if v:
        lines += ["Verdict: " + "; ".join(f"{k}: {x}" for k, x in v.items()) + ".", ""]
    lines += ["| measure | base model | persona | their posts |", "|---|---|---|---|"]
    lines += [f"| {m} | {_fmt(b)} | {_fmt(p)} | {_fmt(r)} |" for m, b, p, r in metrics_rows(result)]
    words = (result.get("style") or {}).get("words") or {}
    if words:
        lines += ["", "Most characteristic words: " + "; ".join(f"{k}: {', '.join(w) or '–'}" for k, w in words.items()) + "."]
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
