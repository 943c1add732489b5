"""Chat logs and Meta exports: each app's quirks, the context rule, picking the speaker, bad input."""

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.chat_format import user_turn
from studio.errors import InputError
from studio.ingest import list_speakers, load_file, load_posts
from studio.ingest.chats import CONTEXT_CHARS
from studio.ingest.meta import fix_mojibake
from tests.conftest import FIXTURES

DATA = Path(__file__).resolve().parent / "data" / "chats"
ROOT = Path(__file__).resolve().parent.parent


def rows(name: str) -> list[tuple]:
    return [(p.speaker, p.text, p.context) for p in load_file(DATA / name)]


def test_line_english_quotes_stickers_system_lines_and_pm_times():
    posts = load_file(DATA / "line-en.txt")
    assert {p.source for p in posts} == {"line"}
    assert rows("line-en.txt") == [
        ("Hanako", "Happy new year!", None),
        ("Taro", 'Happy new year\ntoo, see you "soon"', "Happy new year!"),  # quoted multi-line message
        ("Hanako", "What are you doing today?", 'Happy new year\ntoo, see you "soon"'),  # the sticker is not text
        ("Taro", "Going to the shrine", "What are you doing today?"),  # unsent and "added" lines dropped
        ("Taro", "with my family", "What are you doing today?"),  # the same run answers the same message
        ("Hanako", "Nice, have fun!", "Going to the shrine\nwith my family"),
    ]
    assert [p.created_at for p in posts][::3] == ["2024-01-01T09:41:00", "2024-01-02T21:00:00"]


def test_line_japanese_header_dates_gozen_gogo_and_calls():
    posts = load_file(DATA / "line-ja.txt")
    assert [(p.speaker, p.text) for p in posts] == [
        ("花子", "あけましておめでとう！"), ("太郎", "今年もよろしく〜"), ("花子", "初詣いく？\n午後がいいな"), ("太郎", "いいね、行こう")]
    assert posts[2].created_at == "2024-01-01T15:04:00"  # 午後3:04
    assert posts[3].context == "初詣いく？\n午後がいいな"


@pytest.mark.parametrize("name, first_date, expected", [
    ("whatsapp-us.txt", "2023-12-31T21:41:00",
     [("Alice", "Are you coming tonight?", None), ("Bob", "Yes!\nBringing snacks", "Are you coming tonight?"),
      ("Alice", "Happy new year", "Yes!\nBringing snacks")]),
    ("whatsapp-ios.txt", "2023-12-31T21:41:05",
     [("Anna", "Kommst du heute?", None), ("Ben", "Ja, klar", "Kommst du heute?"), ("Ben", "Frohes neues Jahr!", "Kommst du heute?")]),
    ("whatsapp-dayfirst.txt", "2023-12-31T21:41:00",
     [("Asha", "Dinner at 8?", None), ("Ravi", "sounds good", "Dinner at 8?"), ("Asha", "morning", "sounds good")]),
])
def test_whatsapp_date_formats_media_system_and_multiline(name, first_date, expected):
    posts = load_file(DATA / name)
    assert rows(name) == expected  # media, deleted, "<This message was edited>", encryption and "added" lines gone
    assert posts[0].created_at == first_date and {p.source for p in posts} == {"whatsapp"}


def test_whatsapp_day_first_decided_by_the_file():
    assert load_file(DATA / "whatsapp-dayfirst.txt")[2].created_at == "2024-01-02T08:15:00"  # 02/01 is 2 January here
    assert load_file(DATA / "whatsapp-us.txt")[2].created_at == "2024-01-01T00:01:00"  # 12 AM


def test_telegram_entities_service_media_replies_and_forwards():
    posts = load_file(DATA / "result.json")
    assert rows("result.json") == [
        ("Mika", "Did you see the eclipse?", None),
        ("Sora", "Yes! https://example.com/eclipse so pretty", "Did you see the eclipse?"),  # entity list joined
        ("Mika", "I missed the start", "Yes! https://example.com/eclipse so pretty"),  # the photo is not text
        ("Sora", "It was at nine", "Did you see the eclipse?"),  # reply_to_message_id: the replied message
        ("Sora", "Eclipse seen across the country", "I missed the start"),
    ]
    assert posts[3].is_reply and posts[4].is_retweet  # forwarded: someone else's words, dropped by cleaning
    assert posts[0].created_at == "2024-01-01T09:41:00" and posts[0].source == "telegram"


def test_telegram_whole_account_export(tmp_path):
    chat = json.loads((DATA / "result.json").read_text())
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"about": "export", "chats": {"about": "chats", "list": [chat, {**chat, "id": 7}]}}))
    posts = load_file(path)
    assert len(posts) == 10 and posts[5].context is None  # each chat its own conversation


def test_discord_json_and_csv():
    posts = load_file(DATA / "discord.json")
    assert rows("discord.json") == [
        ("kei", "anyone up for a game?", None), ("yui", "me!", "anyone up for a game?"),
        ("kei", "starting in 5", "me!"), ("yui", "which game?", "anyone up for a game?")]  # reference.messageId
    assert posts[0].created_at == "2024-03-01T10:01:00.123+00:00" and posts[0].source == "discord"
    assert rows("discord.csv") == [
        ("kei", "anyone up for a game?", None), ("yui", "me, yes!\nright now", "anyone up for a game?"),
        ("kei", "starting in 5", "me, yes!\nright now")]  # the attachment-only row is not text
    assert load_file(DATA / "discord.csv")[2].created_at == "2024-03-01T10:05:00"


def test_messenger_and_instagram_dm_mojibake_and_order():
    posts = load_file(DATA / "message_1.json")
    assert rows("message_1.json") == [("Zoë", "morning!", None), ("Sam", "café at 10?", "morning!"),
                                      ("Zoë", "see you there 😀", "café at 10?")]  # oldest first, repaired
    assert posts[0].source == "messenger" and posts[0].created_at == "2024-01-01T09:56:40Z"
    dm = load_file(DATA / "instagram-dm-message_1.json")
    assert [(p.source, p.speaker, p.text) for p in dm] == [("instagram", "mika.ig", "posted a new one"),
                                                           ("instagram", "sora", "nice pic 🔥")]


def test_instagram_posts_fixture_captions_and_mojibake():
    raw = json.loads((FIXTURES / "instagram-posts_1.json").read_text())
    posts = load_file(FIXTURES / "instagram-posts_1.json")
    assert len(raw) == 1057 and len(posts) == 899  # posts with a caption
    assert {p.source for p in posts} == {"instagram"} and all(p.speaker is None for p in posts)
    captions = [p["title"] if p.get("title") else next((m["title"] for m in p["media"] if m["title"]), "") for p in raw]
    assert sum(1 for c in captions if c and fix_mojibake(c) != c) == 79  # every mis-encoded caption repaired
    assert not any("ð\x9f" in p.text or "Â°" in p.text for p in posts)
    assert any("🐈" in p.text for p in posts) and any("85° heat" in p.text for p in posts)
    assert posts[0].created_at == "2015-02-18T02:04:48Z"
    assert load_file(FIXTURES / "instagram-posts_1.json")[-1].text  # carousels: the post's own title


def test_fix_mojibake_leaves_good_text():
    assert fix_mojibake("café 😀 ok") == "café 😀 ok"
    assert fix_mojibake("cafÃ©") == "café"


def test_context_is_capped_at_its_end(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text("1/2/24, 9:00 AM - A: " + "x" * 500 + "END\n1/2/24, 9:01 AM - B: ok\n")
    context = load_file(path)[1].context
    assert len(context) == CONTEXT_CHARS and context.endswith("END")


def test_context_is_the_training_user_turn():
    posts = load_posts([DATA / "line-en.txt"], speakers=["Taro"])
    assert user_turn(posts[0], {}, random.Random(0)) == "Happy new year!"


def test_speakers_listed_and_picked():
    assert list_speakers([DATA / "discord.json"]) == [("kei", 2), ("yui", 2)]
    assert list_speakers([FIXTURES / "instagram-posts_1.json"]) == []
    picked = load_posts([DATA / "discord.json"], speakers=["yui"])
    assert [(p.text, p.context) for p in picked] == [("me!", "anyone up for a game?"), ("which game?", "anyone up for a game?")]
    both = load_posts([DATA / "discord.json", FIXTURES / "instagram-posts_1.json"], speakers=["kei"])
    assert len(both) == 2 + 899  # posts without a speaker (the person's own) are kept


def test_speaker_choice_needed_and_checked(tmp_path):
    with pytest.raises(InputError, match=r"2 speakers: kei \(2\), yui \(2\).*--speaker"):
        load_posts([DATA / "discord.json"])
    with pytest.raises(InputError, match=r"No messages from 'Kei'.*kei \(2\), yui \(2\)"):
        load_posts([DATA / "discord.json"], speakers=["Kei"])
    one = tmp_path / "solo.txt"
    one.write_text("1/2/24, 9:00 AM - Me: note to self\n1/2/24, 9:05 AM - Me: another one\n")
    assert [p.context for p in load_posts([one])] == [None, None]  # one speaker: no choice needed


@pytest.mark.parametrize("name, content, message", [
    ("result.json", '{"name": "x", "type": "personal_chat", "messages": [{"id": 1, "text": "hi"', "cut short"),
    ("result.json", '[{"text": "not telegram"}]', "not a Telegram Desktop export"),
    ("result.json", "1/2/24, 9:00 AM - A: hi\n", "named like a Telegram Desktop export"),
    ("result.json", '{"type": "personal_chat", "messages": [{"id": 1, "text": "hi"}]}', "no 'from'"),
    ("message_1.json", '{"participants": [], "messages": [{"text_x": 1}]}', "no 'sender_name'"),
    ("posts_1.json", '{"posts": []}', "not an Instagram posts export"),
    ("discord.json", '{"guild": {}, "channel": {}, "messages": [{"content": "hi"}]}', "no 'author'"),
    ("chat.txt", "[LINE] Chat history with A\n\n2024/01/01(Mon)\n09:00\tA\t[Sticker]\n", "no text messages"),
    ("chat.txt", '[LINE] Chat history with A\n\n2024/01/01(Mon)\n09:00\tA\t"start of a long\nmessage', "cut short"),
    ("chat.txt", "1/2/24, 9:00 AM - A: <Media omitted>\n", "no text messages"),
    ("result.json", "", "is empty"),
    ("chat.txt", "", "no usable text"),
])
def test_bad_exports_say_what_and_what_to_do(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_file(path)


def test_wrong_encoding_and_huge_chat(tmp_path, monkeypatch):
    import studio.ingest as ingest

    path = tmp_path / "chat.txt"
    path.write_bytes("1/2/24, 9:00 AM - A: ok\n".encode() + b"\x81\xff\xfe")
    with pytest.raises(InputError, match="UTF-8"):
        load_file(path)
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 100)
    shutil.copy(DATA / "result.json", tmp_path / "result.json")
    with pytest.raises(InputError, match="the limit is"):
        load_file(tmp_path / "result.json")


def studio(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cli_list_speakers_pick_and_refuse(tmp_path):
    listed = studio("ingest", DATA / "whatsapp-us.txt", "--list-speakers")
    assert listed.returncode == 0 and listed.stdout.splitlines() == ["Alice\t2", "Bob\t1"]
    out = tmp_path / "posts.jsonl"
    missing = studio("ingest", DATA / "whatsapp-us.txt", "--out", out, "--speaker", "Carol")
    assert missing.returncode == 2 and "Alice (2), Bob (1)" in missing.stderr and not out.exists()
    unchosen = studio("ingest", DATA / "whatsapp-us.txt", "--out", out)
    assert unchosen.returncode == 2 and "--speaker NAME" in unchosen.stderr and not out.exists()
    done = studio("ingest", DATA / "whatsapp-us.txt", DATA / "line-en.txt", "--out", out, "--speaker", "Bob",
                  "--speaker", "Taro", "--min-words", "1")
    assert done.returncode == 0, done.stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert {p["speaker"] for p in written} == {"Bob", "Taro"}
    assert written[0] == {**written[0], "context": "Are you coming tonight?", "source": "whatsapp"}
    assert studio("train", "--posts", DATA / "discord.csv", "--list-speakers").stdout.splitlines() == ["kei\t2", "yui\t1"]


def test_chat_log_to_training_examples_answer_the_other_speaker(tiny_model_dir):
    """End to end: a LINE log, Taro picked, cleaned; each example's user turn is what Hanako said before."""
    from transformers import AutoTokenizer

    from studio.chat_format import IGNORE_INDEX, build_examples
    from studio.clean import CleanConfig, clean_posts

    kept, report = clean_posts(load_posts([DATA / "line-en.txt"], speakers=["Taro"]), CleanConfig(min_words=1))
    assert [(p.text, p.context) for p in kept] == [
        ('Happy new year\ntoo, see you "soon"', "Happy new year!"),
        ("Going to the shrine", "What are you doing today?"), ("with my family", "What are you doing today?")]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = build_examples(kept, tokenizer, "You are Taro.", 128)
    prompts = [tokenizer.decode([t for t, l in zip(e["input_ids"], e["labels"]) if l == IGNORE_INDEX]) for e in examples]
    assert "Happy new year!" in prompts[0] and all("What are you doing today?" in p for p in prompts[1:])


def test_whatsapp_newer_iphone_narrow_spaces_and_attachments(tmp_path):
    path = tmp_path / "_chat.txt"
    path.write_text("[12/31/23, 9:41:05\u202fPM] ~\u202fKai: hey\n[12/31/23, 9:42:05\u202fPM] Lee: \u200e<attached: 00000012-PHOTO.jpg>\n"
                    "[12/31/23, 9:43:05\u202fPM] Lee: yo\n")
    assert [(p.speaker, p.text, p.created_at, p.context) for p in load_file(path)] == [
        ("Kai", "hey", "2023-12-31T21:41:05", None), ("Lee", "yo", "2023-12-31T21:43:05", "hey")]


def test_the_other_speakers_words_are_scrubbed_too(tmp_path):
    from studio.clean import CleanConfig, clean_posts

    path = tmp_path / "chat.txt"
    path.write_text("1/2/24, 9:00 AM - Kim: mail me at kim.lee@example.com or call 090-1234-5678, Hanako knows\n"
                    "1/2/24, 9:01 AM - Me: will do, thanks a lot\n")
    kept, _ = clean_posts(load_posts([path], speakers=["Me"]), CleanConfig(scrub_names=["Hanako"]))
    assert kept[0].context == "mail me at <email> or call <phone>, <name> knows"


def test_train_refuses_a_missing_speaker_before_anything_is_written(tmp_path):
    import os

    env_dir = tmp_path / "personas"
    result = subprocess.run([sys.executable, "-m", "studio", "train", "--posts", str(DATA / "result.json"), "--name", "mika",
                             "--speaker", "Nobody"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PERSONAS_DIR": str(env_dir)})
    assert result.returncode == 2 and "Its speakers are: Sora (3), Mika (2)." in result.stderr, result.stderr
    assert not env_dir.exists() or not any(env_dir.rglob("*.jsonl"))


def test_line_without_its_header_is_still_line(tmp_path):
    path = tmp_path / "talk.txt"
    path.write_text("".join((DATA / "line-en.txt").read_text().splitlines(keepends=True)[3:]))
    assert rows("line-en.txt") == [(p.speaker, p.text, p.context) for p in load_file(path)]
    plain = tmp_path / "plain.txt"
    plain.write_text("2024/01/01\nnew year, new posts\n09:00 coffee\n")
    assert {p.speaker for p in load_file(plain)} == {None}
