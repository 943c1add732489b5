"""Posts -> chat-format training examples with the loss on the assistant turn only.

Each post becomes: the persona's system prompt, a user turn, and the post as the assistant's
answer. The user turn is the text the post replied to when the export has it (a reply within the
person's own thread: X and Mastodon archives hold only the owner's posts), else a short prompt
drawn from a fixed set. Either way the persona learns to *answer* in the person's voice (what chat
asks of it), not only to post.
"""

from __future__ import annotations

import logging
import random

from studio.clean.text import script_of
from studio.errors import InputError
from studio.ingest import Post

log = logging.getLogger(__name__)

IGNORE_INDEX = -100

PROMPTS_BY_LANGUAGE = {
    "en": ("Say something.", "Any news?", "What's up?", "Any thoughts?", "What's new?", "How was your day?",
           "How are you?", "What are you up to?", "What's happening?", "Tell me something.", "What do you think?",
           "How's it going?", "What are you doing?", "Anything new?", "What's going on?", "Thoughts?", "What's good?",
           "How's life?", "What happened today?", "Share something.", "What's the latest?", "Anything to share?",
           "What have you been up to?", "Any updates?", "What caught your eye?", "Seen anything cool?"),
    "ja": ("元気？", "最近どう？", "どう？", "何してる？", "調子は？", "ひま？", "聞いてよ", "近況は？", "おつかれ", "やっほー",
           "ねえねえ", "今日は？", "最近は？", "何かある？", "話して", "なにしてる？", "どうした？", "最近の話"),
    "zh": ("在干嘛？", "怎么样？", "说点什么", "你好吗？", "在忙啥？", "最近好吗？"),
    "ko": ("뭐 해?", "어때?", "뭐 하니?", "안녕?", "잘 지내?", "무슨 일?"),
}
"""Short on purpose: a prompt is in every example that has no parent post, and costs compute in each
(3-10 tokens with SmolLM2's tokenizer, which takes ~2 tokens a Japanese character). Asked in the post's own
script (Japanese, Chinese, Korean; else English), as a chat in their language would be, and many, so that
the persona learns to answer whatever it is asked in their voice, not only a few openers. Disjoint from the
evaluation's prompts (studio/evaluation/prompts.py; tested), so that its style figures are not on prompts
training saw."""
USER_PROMPTS = tuple(p for pool in PROMPTS_BY_LANGUAGE.values() for p in pool)

FALLBACK_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant: {% endif %}"
)
"""A plain template for base models that ship none ("System: ...", "User: ...", "Assistant: ..." lines). An answer
ends with the end token, so a persona trained on it learns to stop instead of writing the next "User:" line."""


def default_system_prompt(name: str) -> str:
    """Short on purpose: it is in every training example. A new persona's own default adds a line on how they
    write (studio.training.prompt)."""
    return f"You are {name}."


def ensure_chat_template(tokenizer) -> bool:
    """Give a tokenizer without a chat template the plain fallback. Returns True if it had to."""
    if tokenizer.chat_template:
        return False
    log.warning("The base model has no chat template; using a plain 'Role: text' template.")
    tokenizer.chat_template = FALLBACK_TEMPLATE
    return True


def chat_messages(system_prompt: str, user: str, history: list[tuple[str, str]] | None = None) -> list[dict]:
    """Messages for the chat template. The system prompt is always given: SmolLM2's template
    otherwise inserts its own ("You are a helpful AI assistant named SmolLM")."""
    messages = [{"role": "system", "content": system_prompt}]
    for asked, answered in history or []:
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    messages.append({"role": "user", "content": user})
    return messages


SYSTEM_JOINER = "\n\n"  # system prompt and first message, as Gemma 3's own template joins them
SYSTEM_NOTE = ("This model's chat template has no system role: the system prompt is put at the start of the "
               "first message.")
_PROBE = "Studio-system-probe-7f3a"
_system_roles: dict[str, str] = {}


def system_role(tokenizer) -> str:
    """How the chat template treats a system message: 'native' (its own turn or place), 'joined' (the template
    itself puts it at the start of the first user message, as Gemma 3's does) or 'none' (it refuses one, as
    Gemma 2's and Mistral's do, or drops it without a word): then `fit_messages` joins it to the first message."""
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else repr(tokenizer.chat_template)
    if template not in _system_roles:
        user = {"role": "user", "content": "Hello there."}
        try:
            text = tokenizer.apply_chat_template([{"role": "system", "content": _PROBE}, user], tokenize=False,
                                                 add_generation_prompt=True)
        except Exception:  # jinja's TemplateError from raise_exception, or a template that cannot take the role
            text = ""
        joined = {"role": "user", "content": _PROBE + SYSTEM_JOINER + user["content"]}
        if _PROBE not in text:
            _system_roles[template] = "none"
        elif text == tokenizer.apply_chat_template([joined], tokenize=False, add_generation_prompt=True):
            _system_roles[template] = "joined"
        else:
            _system_roles[template] = "native"
    return _system_roles[template]


def system_note(tokenizer) -> str:
    """What a chat pane says about the system prompt on this base model ('' where the template has a system role)."""
    return "" if system_role(tokenizer) == "native" else SYSTEM_NOTE


def fit_messages(tokenizer, messages: list[dict]) -> list[dict]:
    """The messages as this chat template takes them: where it has no system role, the system prompt opens the
    first user message (joined as Gemma 3's template does), so the persona's prompt is never refused or lost."""
    if not messages or messages[0]["role"] != "system" or system_role(tokenizer) != "none":
        return messages
    system, rest = messages[0]["content"].strip(), [dict(m) for m in messages[1:]]
    first = next((m for m in rest if m["role"] == "user"), None)
    if system and first is not None:
        first["content"] = system + SYSTEM_JOINER + first["content"]
    return rest


def render_chat(tokenizer, messages: list[dict], add_generation_prompt: bool = True) -> str:
    """The one rendering of chat messages (training, chat and evaluation alike): the system prompt fitted to the
    template (`fit_messages`); thinking off (Qwen3's template then writes an empty think block after the
    assistant's opening, in the prompt and in the trained answer alike: a persona answers, it does not think)."""
    return tokenizer.apply_chat_template(fit_messages(tokenizer, messages), tokenize=False,
                                         add_generation_prompt=add_generation_prompt, enable_thinking=False)


def encode_example(tokenizer, system_prompt: str, user: str, post: str, max_length: int) -> dict | None:
    """input_ids/labels for one example, labels masked to IGNORE_INDEX outside the post's tokens.

    The prompt and the answer are tokenized apart and joined, so the boundary is exact.
    Returns None when the prompt alone leaves no room for the post.
    """
    messages = chat_messages(system_prompt, user)
    prompt = render_chat(tokenizer, messages)
    full = render_chat(tokenizer, messages + [{"role": "assistant", "content": post}], add_generation_prompt=False)
    if not full.startswith(prompt):
        raise InputError("The base model's chat template does not put the answer after the prompt; choose another base model.")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt):], add_special_tokens=False)["input_ids"]
    room = max_length - len(prompt_ids)
    if room < 4:
        return None
    answer_ids = answer_ids[:room]
    return {
        "input_ids": prompt_ids + answer_ids,
        "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids,
    }


MAX_PARENT_CHARS = 280
"""A parent post used as the user turn is cut to this many characters, so the answer keeps its room."""


def user_turn(post: Post, parents: dict[str, str], rng: random.Random) -> str:
    """The text `post` answered, if known (its `context`, else its parent among the person's own posts);
    else a short prompt. The prompt is drawn either way, so adding a parent does not change the prompts
    of the other examples."""
    prompt = rng.choice(PROMPTS_BY_LANGUAGE.get(script_of(post.text, post.lang), PROMPTS_BY_LANGUAGE["en"]))
    parent = (post.context or parents.get(post.reply_to_id or "", "")).strip()
    return parent[:MAX_PARENT_CHARS] if parent else prompt


def build_examples(posts: list[Post], tokenizer, system_prompt: str, max_length: int, seed: int = 0,
                   parents: dict[str, str] | None = None) -> list[dict]:
    """One example a post. `parents` maps post ids to (cleaned) texts that replies may answer."""
    rng = random.Random(seed)
    parents = parents or {}
    examples = []
    for post in posts:
        example = encode_example(tokenizer, system_prompt, user_turn(post, parents, rng), post.text, max_length)
        if example is not None:
            examples.append(example)
    if not examples:
        raise InputError(
            f"No training examples fit in max_length={max_length} tokens: the system prompt is too long. "
            "Shorten the system prompt or raise max_length."
        )
    return examples


def pad_batch(examples: list[dict], pad_token_id: int) -> dict:
    """Right-pad a batch to its longest example (dynamic padding: short posts stay cheap)."""
    import torch

    width = max(len(e["input_ids"]) for e in examples)
    ids, labels, mask = [], [], []
    for e in examples:
        pad = width - len(e["input_ids"])
        ids.append(e["input_ids"] + [pad_token_id] * pad)
        labels.append(e["labels"] + [IGNORE_INDEX] * pad)
        mask.append([1] * len(e["input_ids"]) + [0] * pad)
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}
