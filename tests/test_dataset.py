from transformers import AutoTokenizer

from studio.chat_format import IGNORE_INDEX, USER_PROMPTS, build_examples, chat_messages, encode_example, ensure_chat_template, pad_batch
from studio.ingest import Post


def test_loss_only_on_the_post(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    example = encode_example(tokenizer, "You are Koume.", "最近どう？", "チクショー！！", max_length=128)
    labelled = [t for t, label in zip(example["input_ids"], example["labels"]) if label != IGNORE_INDEX]
    assert tokenizer.decode(labelled).strip() == "チクショー！！<|im_end|>"
    prompt = tokenizer.decode(example["input_ids"][: len(example["input_ids"]) - len(labelled)])
    assert prompt.endswith("<|im_start|>assistant\n") and "You are Koume." in prompt and "最近どう？" in prompt


def test_long_posts_cut_and_prompts_that_leave_no_room_skipped(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    long = encode_example(tokenizer, "S", "hi", "word " * 500, max_length=64)
    assert len(long["input_ids"]) == 64 and long["labels"][-1] != IGNORE_INDEX
    assert encode_example(tokenizer, "very long system prompt " * 50, "hi", "post", max_length=64) is None
    assert len(build_examples([Post("a"), Post("b")], tokenizer, "S", 64, seed=1)) == 2


def test_pad_batch_is_dynamic():
    batch = pad_batch([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [5]}], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [5, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_fallback_template_for_models_without_one(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    assert ensure_chat_template(tokenizer) is True
    example = encode_example(tokenizer, "You are X.", "hi", "hello there", max_length=64)
    answer = [t for t, l in zip(example["input_ids"], example["labels"]) if l != -100]
    assert tokenizer.decode(answer, skip_special_tokens=True).strip() == "hello there"
    assert tokenizer.eos_token_id in answer[-2:], "the answer ends with the end token: the persona learns to stop"


def test_chat_messages_always_carry_the_system_prompt_and_history():
    assert chat_messages("You are K.", "and now?", [("first?", "first!")]) == [
        {"role": "system", "content": "You are K."},
        {"role": "user", "content": "first?"},
        {"role": "assistant", "content": "first!"},
        {"role": "user", "content": "and now?"},
    ]


def test_a_reply_in_the_persons_own_thread_answers_its_parent(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    parent = Post("Which editor do you use?", id="1")
    reply, other = Post("Vim, for twenty years.", id="2", is_reply=True, reply_to_id="1"), Post("unrelated", reply_to_id="99")
    examples = build_examples([parent, reply, other], tokenizer, "S", 128, seed=3, parents={"1": parent.text, "2": reply.text})
    prompts = [tokenizer.decode([t for t, l in zip(e["input_ids"], e["labels"]) if l == IGNORE_INDEX]) for e in examples]
    assert "Which editor do you use?" in prompts[1]
    assert "Which editor" not in prompts[0] and "Which editor" not in prompts[2]  # no parent known: a fixed prompt
    assert any(p in prompts[2] for p in USER_PROMPTS)


def test_a_chat_message_answers_the_message_it_replied_to(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    message = Post("明日なら行けるよ！", speaker="Koume", context="週末ひま？")
    alone = Post("おはよう", speaker="Koume")
    examples = build_examples([message, alone], tokenizer, "S", 128, seed=1)
    prompts = [tokenizer.decode([t for t, l in zip(e["input_ids"], e["labels"]) if l == IGNORE_INDEX]) for e in examples]
    assert "週末ひま？" in prompts[0] and "週末ひま？" not in prompts[1]
    assert Post.from_dict(message.to_dict()) == message  # the new fields survive a job's posts.jsonl


def test_a_post_without_parent_is_asked_in_its_own_language_on_prompts_the_evaluation_never_asks(tiny_model_dir):
    import re

    from studio.chat_format import PROMPTS_BY_LANGUAGE
    from studio.evaluation.prompts import POOLS

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    posts = [Post("今日はラーメン食べた"), Post("Shipped the new release today."), Post("今天天气真好"), Post("오늘 너무 피곤해"),
             Post("Heute war ein guter Tag.", lang="de")]
    examples = build_examples(posts, tokenizer, "S", 128, seed=0)
    prompts = [tokenizer.decode([t for t, l in zip(e["input_ids"], e["labels"]) if l == IGNORE_INDEX]) for e in examples]
    for prompt, lang in zip(prompts, ("ja", "en", "zh", "ko", "en")):
        assert any(p in prompt for p in PROMPTS_BY_LANGUAGE[lang]), (prompt, lang)

    def key(text):
        return re.sub(r"[\W_]+", "", text.casefold())

    asked = {key(p) for pool in POOLS.values() for p in pool}
    assert all(key(p) not in asked for p in USER_PROMPTS)  # style is measured on prompts training never saw
    assert all(len(tokenizer(p)["input_ids"]) <= 10 for p in USER_PROMPTS)  # short: every example carries one


def test_default_system_prompt_names_how_they_write_in_their_language():
    from studio.training.prompt import default_prompt as default_system_prompt

    assert default_system_prompt("Andre") == default_system_prompt("Andre", []) == "You are Andre."
    tweets = ["shipping a tiny css fix today", "who else is still on node 18?", "coffee first, then code"]
    assert default_system_prompt("Andre", tweets) == "You are Andre. Reply like one of your posts: one short, casual line."
    essays = ["A long paragraph about the state of the web. " * 5] * 3
    assert default_system_prompt("Ann", essays) == "You are Ann. Reply like one of your posts: in your own words and length."
    plain = ["今日は雨だった。", "ラーメン食べた！", "明日も仕事かー"]
    polite = ["今日は雨でした。", "ラーメンを食べました！", "明日も仕事です。"]
    assert default_system_prompt("小梅", plain) == "あなたは小梅です。いつもの投稿のように、短い一言で、普通体で返してください。"
    assert default_system_prompt("小梅", polite) == "あなたは小梅です。いつもの投稿のように、短い一言で、です・ます調で返してください。"
    assert default_system_prompt("Mix", plain[:1] + tweets).startswith("You are Mix.")  # Japanese is not the majority
