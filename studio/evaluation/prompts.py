"""The evaluation's chat prompts, asked in the languages the person writes in.

Style is measured by comparing the replies with the person's held-out posts, so the prompts must be in
their languages: an English persona asked in Japanese answers in (poor) Japanese, and a classifier then
tells those replies from the English posts by their script alone, whatever the persona's voice. The
prompts are split over the languages of the training posts in proportion to their shares (largest
remainder); a language with a share too small to earn one prompt gets none, and a language without a pool
here is asked in English (said in the result's `languages`).
"""

from __future__ import annotations

import random
from collections import Counter

from studio.evaluation.fit import language_of

POOLS = {
    "en": (
        "What's on your mind today?", "How was your weekend?", "What are you working on right now?",
        "Any plans for tonight?", "What did you eat today?", "What's the best thing that happened this week?",
        "What annoys you lately?", "Recommend me something.", "What are you looking forward to?",
        "How's the weather where you are?", "What did you learn recently?", "Tell me about your morning.",
        "What are you reading these days?", "How's work going?", "What did you do yesterday?",
        "Anything fun coming up?", "What's something you changed your mind about?", "How are you feeling today?",
        "What's the last thing that made you laugh?", "Got any news?", "What's bugging you this week?",
        "What would you do with a free afternoon?", "What's your take on today?", "Say something about your day.",
    ),
    "ja": (
        "今日は何してた？", "週末はどうだった？", "最近ハマってることは？", "今夜の予定は？", "今日のごはんは何？",
        "今週いちばん良かったことは？", "最近イラッとしたことは？", "何かおすすめある？", "楽しみにしていることは？",
        "そっちの天気はどう？", "最近何か新しいこと覚えた？", "今朝はどんな感じだった？",
        "最近読んでるものある？", "仕事はどう？", "昨日は何してた？", "何か楽しい予定ある？", "最近考えが変わったことは？",
        "今日の気分は？", "最近笑ったことは？", "何かニュースある？", "今週困ってることは？", "暇な午後があったら何する？",
        "今日はどんな一日？", "ひとこと言って。",
    ),
    "zh": (
        "今天在想什么？", "周末过得怎么样？", "最近在忙什么？", "今晚有什么安排？", "今天吃了什么？",
        "这周最开心的事是什么？", "最近有什么烦心事？", "给我推荐点什么吧。", "最近在期待什么？", "你那边天气怎么样？",
        "最近学到了什么？", "说说你今天早上吧。",
    ),
    "ko": (
        "오늘 무슨 생각해?", "주말 어땠어?", "요즘 뭐 하고 있어?", "오늘 밤 계획 있어?", "오늘 뭐 먹었어?",
        "이번 주 제일 좋았던 일은?", "요즘 짜증나는 일 있어?", "뭐 추천해 줘.", "요즘 기대되는 거 있어?", "거기 날씨 어때?",
        "최근에 새로 배운 거 있어?", "오늘 아침 어땠어?",
    ),
    "de": (
        "Was geht dir heute durch den Kopf?", "Wie war dein Wochenende?", "Woran arbeitest du gerade?",
        "Was hast du heute Abend vor?", "Was hast du heute gegessen?", "Was war das Beste an dieser Woche?",
        "Was nervt dich gerade?", "Empfiehl mir etwas.", "Worauf freust du dich?", "Wie ist das Wetter bei dir?",
        "Was hast du zuletzt gelernt?", "Erzähl mir von deinem Morgen.",
    ),
    "fr": (
        "À quoi tu penses aujourd'hui ?", "C'était comment, ton week-end ?", "Tu bosses sur quoi en ce moment ?",
        "Des projets pour ce soir ?", "Tu as mangé quoi aujourd'hui ?", "Le meilleur moment de ta semaine ?",
        "Qu'est-ce qui t'agace en ce moment ?", "Recommande-moi quelque chose.", "Tu attends quoi avec impatience ?",
        "Il fait quel temps chez toi ?", "Tu as appris quoi récemment ?", "Raconte-moi ta matinée.",
    ),
    "es": (
        "¿Qué tienes en mente hoy?", "¿Qué tal el fin de semana?", "¿En qué estás trabajando ahora?",
        "¿Planes para esta noche?", "¿Qué comiste hoy?", "¿Qué fue lo mejor de esta semana?",
        "¿Qué te molesta últimamente?", "Recomiéndame algo.", "¿Qué esperas con ganas?", "¿Qué tiempo hace por ahí?",
        "¿Qué aprendiste hace poco?", "Cuéntame de tu mañana.",
    ),
}
FALLBACK = "en"
DEFAULT_SHARES = {"en": 0.5, "ja": 0.5}  # no posts to read (the old behaviour): half English, half Japanese


def language_shares(posts: list[dict]) -> dict[str, float]:
    """Share of each language among `posts` (dicts with "text" and the export's "lang" tag), by
    studio.evaluation.fit.language_of: CJK by script, else the tag, else English."""
    counts = Counter(language_of(p.get("text") or "", p.get("lang")) for p in posts if (p.get("text") or "").strip())
    total = sum(counts.values())
    return {lang: n / total for lang, n in counts.most_common()} if total else {}


def allocate(count: int, shares: dict[str, float]) -> dict[str, int]:
    """`count` prompts over the languages (those without a pool folded into English), by largest remainder."""
    folded: Counter = Counter()
    for lang, share in shares.items():
        folded[lang if lang in POOLS else FALLBACK] += share
    total = sum(folded.values()) or 1.0
    exact = {lang: count * share / total for lang, share in folded.items()}
    earned = {lang: x for lang, x in exact.items() if x >= 1} or exact  # a share worth under one prompt gets none
    exact = {lang: count * x / sum(earned.values()) for lang, x in earned.items()}
    counts = {lang: int(x) for lang, x in exact.items()}
    by_remainder = sorted(exact, key=lambda lang: (-(exact[lang] - counts[lang]), -exact[lang], lang))
    for lang in by_remainder[:count - sum(counts.values())]:
        counts[lang] += 1
    return {lang: n for lang, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n}


def choose_prompts(count: int, seed: int, shares: dict[str, float] | None = None) -> list[tuple[str, str]]:
    """(language, prompt) pairs in the posts' languages (`shares`, e.g. from language_shares; None = half
    English, half Japanese), drawn with `seed` from each language's pool (cycling past its end)."""
    rng = random.Random(seed)
    chosen = []
    for lang, n in allocate(count, shares or DEFAULT_SHARES).items():
        order = list(POOLS[lang])
        rng.shuffle(order)
        chosen += [(lang, order[i % len(order)]) for i in range(n)]
    return chosen


def asked_in(shares: dict[str, float], chosen: list[tuple[str, str]]) -> dict:
    """What the result records: prompts per language, and the posts' languages asked in English instead."""
    return {"prompts": dict(Counter(lang for lang, _ in chosen)),
            "posts": {lang: round(share, 3) for lang, share in shares.items()},
            "asked_in_english": sorted(lang for lang in shares if lang not in POOLS)}
