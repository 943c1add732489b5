"""Privacy scrubbing: phones found by libphonenumber per the post's language, e-mails, the user's names,
and the cleaning report's examples of each kind."""

import pytest

from studio.clean import CleanConfig, clean_posts
from studio.clean.privacy import regions_for, scrub_addresses, scrub_emails, scrub_phones
from studio.ingest import Post, load_file
from tests.conftest import FIXTURES

# (language tag, text, the phone numbers in it)
PHONES = [
    ("ja", "電話は090-1234-5678まで", ["090-1234-5678"]),
    ("ja", "本社 03-1234-5678、大阪 06-6123-4567", ["03-1234-5678", "06-6123-4567"]),
    ("ja", "フリーダイヤル0120-123-456へ", ["0120-123-456"]),
    ("ja", "海外からは +81 90 1234 5678 です", ["+81 90 1234 5678"]),
    ("de", "Ruf an: +49 30 1234567 oder 030 1234567", ["+49 30 1234567", "030 1234567"]),
    ("de", "Büro +49 (0)30 1234567", ["+49 (0)30 1234567"]),
    ("en", "call (555) 123-4567 or +1 (555) 123-4567", ["(555) 123-4567", "+1 (555) 123-4567"]),
    ("en", "office 212-555-0123, London +44 20 7946 0958", ["212-555-0123", "+44 20 7946 0958"]),
    ("en-GB", "ring 020 7946 0958", ["020 7946 0958"]),
    ("fr", "appelle le +33 1 23 45 67 89", ["+33 1 23 45 67 89"]),
    (None, "call 090-1234-5678 / +1 (555) 123-4567", ["090-1234-5678", "+1 (555) 123-4567"]),
]
NOT_PHONES = [
    ("de", "Termin am 01.10.2025 und 16.02.2026, 13:00-15:00 Uhr"),
    ("de", "Version v1.2.3 kostet € 1.234,56, Ergebnis 3-1, 10-20 Leute"),
    ("ja", "2024年1月1日から2024/01/01、2019.12.31まで"),
    ("ja", "価格は¥12,800、スコア3-1、ISBN 978-4-06-123456-7"),
    ("ja", "カード番号みたいな1234-5678-9012は電話じゃない"),
    ("en", "on 1/1/2024 and 12/31/2024 at 12:30, tweet 1441638296296198149"),
    ("en", "v1.2.3 costs $1,234.56; 1,000,000 views, pi 3.14159265, 192.168.1.1"),
    ("en", "the 2020-2021 season (2020-2021), page (2019) 12.31"),
    (None, "tweet 1441638296296198149 on 2021-09-25 at 05:38:48, 20210925"),
    ("en", "Adding subcommands - http://blog.npmjs.org/post/119317128765/adding-subcommands"),
    (None, "(65~79)*2+(80~89)*6=665"),
    (None, "Termin 01.10.2025, 2024年1月1日, v10.20.30, 10-20, 3-1"),
]


@pytest.mark.parametrize("lang,text,phones", PHONES)
def test_phone_numbers_found(lang, text, phones):
    scrubbed, found = scrub_phones(text, lang)
    assert found == phones
    assert scrubbed.count("<phone>") == len(phones) and not any(p in scrubbed for p in phones)


@pytest.mark.parametrize("lang,text", NOT_PHONES)
def test_dates_times_versions_prices_ids_ranges_scores_are_not_phones(lang, text):
    assert scrub_phones(text, lang) == (text, [])


def test_regions_follow_the_language_tag():
    assert regions_for("ja") == ("JP",) and regions_for("de") == ("DE",)
    assert regions_for("en") == ("US", "GB") and regions_for("en-GB") == ("GB", "US")
    assert regions_for("pt_BR") == ("BR",) and regions_for("de-AT") == ("AT", "DE")
    assert regions_for(None) == regions_for("und") == regions_for("qme") == ("US", "GB", "DE", "JP")


def test_emails_found_without_the_words_around_them():
    assert scrub_emails("連絡はjane.doe+x@example.co.jpまで") == ("連絡は<email>まで", ["jane.doe+x@example.co.jp"])
    assert scrub_emails("me@mail.example.org, you@b.io.") == ("<email>, <email>.", ["me@mail.example.org", "you@b.io"])
    for text in ("@handle at 3pm", "a@b", "user@localhost", "price 5@10.00", "x@-bad.com"):
        assert scrub_emails(text) == (text, []), text


def test_report_lists_each_kind_with_examples():
    posts = [Post("連絡は hanako@example.jp か 090-1234-5678 へ。花子より", lang="ja"),
             Post("Termin am 01.10.2025, Büro +49 30 1234567, Grüße Hanako", lang="de"),
             Post("ハナコです 16.02.2026 に会おう", lang="ja")]
    kept, report = clean_posts(posts, CleanConfig(scrub_names=["Hanako", "ハナコ", "花子"]))
    assert [p.text for p in kept] == ["連絡は <email> か <phone> へ。<name>より",
                                      "Termin am 01.10.2025, Büro <phone>, Grüße <name>",
                                      "<name>です 16.02.2026 に会おう"]
    assert report.privacy == {"url": 0, "email": 1, "phone": 2, "address": 0, "handle": 0, "name": 3}
    step = report.steps["privacy"]
    assert step.changed == 3
    by_kind = {}
    for e in step.examples:
        by_kind.setdefault(e["kind"], []).append((e["before"], e["after"]))
    assert by_kind["phone"][1] == ("Termin am 01.10.2025, Büro +49 30 1234567, Grüße Hanako",
                                   "Termin am 01.10.2025, Büro <phone>, Grüße Hanako")
    assert by_kind["email"] == [("連絡は hanako@example.jp か 090-1234-5678 へ。花子より",
                                 "連絡は <email> か 090-1234-5678 へ。花子より")]
    assert by_kind["name"] == [("連絡は <email> か <phone> へ。花子より", "連絡は <email> か <phone> へ。<name>より"),
                               (".10.2025, Büro <phone>, Grüße Hanako", ".10.2025, Büro <phone>, Grüße <name>"),
                               ("ハナコです 16.02.2026 に会おう", "<name>です 16.02.2026 に会おう")], "30 characters either side"
    kept, report = clean_posts(posts[1:2], CleanConfig(scrub_phones=False))
    assert "+49 30 1234567" in kept[0].text and report.privacy["phone"] == 0


def test_the_japanese_fixture_has_one_phone_number():
    """4,406 tweets with dates, times, prices and scores: one phone number, a venue's, and nothing else."""
    posts = load_file(FIXTURES / "koume-dayuu-tweets.csv")
    found = [phone for p in posts for phone in scrub_phones(p.text, p.lang)[1]]
    assert found == ["03-5995-4300"]


def test_street_addresses_only_when_asked():
    assert scrub_addresses("Send it to 1600 Pennsylvania Ave NW, Washington, DC 20500 please", "en") == (
        "Send it to <address> please", ["1600 Pennsylvania Ave NW, Washington, DC 20500"])
    assert scrub_addresses("Office: 221B Baker Street, London NW1 6XE", None)[1] == ["221B Baker Street, London NW1 6XE"]
    for lang, text in (("en", "I scored 3 goals in 2 games on Main street"), ("en", "at 221 Baker Street today"),
                       ("de", "Büro: 221B Baker Street, London NW1 6XE"), ("ja", "豊島区要町3-11-3 ラルジュ大映 B1F")):
        assert scrub_addresses(text, lang) == (text, []), "needs a city or postcode; US, Canada and UK only"
    post = Post("our shop: 350 Fifth Avenue, New York, NY 10118 (come by)", lang="en")
    assert clean_posts([post])[0][0].text == post.text, "off by default"
    kept, report = clean_posts([post], CleanConfig(scrub_addresses=True))
    assert kept[0].text == "our shop: <address> (come by)" and report.privacy["address"] == 1
    assert report.steps["privacy"].examples == [{"kind": "address", "before": post.text, "after": kept[0].text}]
