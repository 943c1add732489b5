"""CleanConfig: every cleaning step as a named option with a default and help text."""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.clean.text import RUN_CHARS
from studio.config import Settings, check

UNICODE_FORMS = ("per-script", "NFKC", "NFC", "none")


@dataclass
class CleanConfig(Settings):
    drop_retweets: bool = field(default=True, metadata={"help": "Drop retweets and boosts: they are someone else's words."})
    replies: str = field(default="strip", metadata={"help": "'strip': keep replies without the leading @names; 'drop': drop replies; 'keep': as written."})
    html: bool = field(default=True, metadata={"help": "Decode HTML entities (&amp; &gt;) and drop tags."})
    urls: str = field(default="remove", metadata={"help": "'remove' links, 'mask' them as <url>, or 'keep' them. Posts that were only links are dropped."})
    mentions: str = field(default="mask", metadata={"help": "@handles inside the text: 'mask' as @user, 'remove', or 'keep'."})
    hashtags: str = field(default="keep", metadata={"help": "'keep' or 'remove' #hashtags."})
    unicode_form: str = field(default="per-script", metadata={"help": "'per-script': only full-width letters and digits to half width and half-width katakana to full width; CJK punctuation (，：（）), U+3000, emoji and kaomoji stay as written. 'NFKC' folds all of them (， -> , … -> ...); 'NFC' or 'none'."})
    japanese_marks: bool = field(default=True, metadata={"help": "Inside Japanese posts (kana, or the export's tag ja; not Chinese or Korean): ! ? ~ to full width (！？～)."})
    unify_wave_dash: bool = field(default=True, metadata={"help": "Inside Japanese posts: 〜 and ∼ become ～, so one wave dash is learned."})
    max_run: int = field(default=2, metadata={"help": "Cap runs of the same mark (〜 ～ ! ? w ー, emoji) at this length; 0 = off."})
    run_chars: str = field(default=RUN_CHARS, metadata={"help": "Characters whose runs are capped (symbols and emoji always are)."})
    min_chars_cjk: int = field(default=4, metadata={"help": "Drop Chinese/Japanese/Korean posts shorter than this many characters."})
    min_words: int = field(default=2, metadata={"help": "Drop other posts with fewer words than this."})
    languages: list[str] = field(default_factory=list, metadata={"help": "Keep only these language codes (the export's own tags, e.g. ja en); empty = all."})
    near_duplicates: bool = field(default=True, metadata={"help": "Drop near-duplicates (MinHash on character shingles)."})
    near_dup_threshold: float = field(default=0.85, metadata={"help": "Similarity (estimated Jaccard of 4-character shingles) from which two posts count as the same."})
    scrub_emails: bool = field(default=True, metadata={"help": "Replace e-mail addresses with <email>."})
    scrub_phones: bool = field(default=True, metadata={"help": "Replace phone numbers with <phone>."})
    scrub_addresses: bool = field(default=False, metadata={"help": "Replace US, Canadian and UK street addresses with <address> (pyap2); off by default: about 3 s more per 100,000 English posts."})
    scrub_names: list[str] = field(default_factory=list, metadata={"help": "Names or words to replace with <name> (e.g. family members)."})
    validation_fraction: float = field(default=0.1, metadata={"help": "Share of posts held out for validation."})
    validation: str = field(default="random", metadata={"help": "'random' (seeded) or 'newest': the most recent posts as validation."})
    split_seed: int = field(default=0, metadata={"help": "Seed of the train/validation split."})

    def __post_init__(self):
        check(self.replies in ("strip", "drop", "keep"), f"replies must be 'strip', 'drop' or 'keep', got {self.replies!r}.")
        check(self.urls in ("remove", "mask", "keep"), f"urls must be 'remove', 'mask' or 'keep', got {self.urls!r}.")
        check(self.mentions in ("mask", "remove", "keep"), f"mentions must be 'mask', 'remove' or 'keep', got {self.mentions!r}.")
        check(self.hashtags in ("keep", "remove"), f"hashtags must be 'keep' or 'remove', got {self.hashtags!r}.")
        check(self.unicode_form in UNICODE_FORMS, f"unicode_form must be 'per-script', 'NFKC', 'NFC' or 'none', got {self.unicode_form!r}.")
        check(0 <= int(self.max_run) <= 100, f"max_run must be between 0 (off) and 100, got {self.max_run}.")
        check(0 <= int(self.min_chars_cjk) <= 1000 and 0 <= int(self.min_words) <= 1000, "min_chars_cjk and min_words must be between 0 and 1000.")
        check(0.3 <= float(self.near_dup_threshold) <= 1.0, f"near_dup_threshold must be between 0.3 and 1.0, got {self.near_dup_threshold}.")
        check(0 <= float(self.validation_fraction) < 0.5, f"validation_fraction must be in [0, 0.5), got {self.validation_fraction}.")
        check(self.validation in ("random", "newest"), f"validation must be 'random' or 'newest', got {self.validation!r}.")
        if isinstance(self.languages, str):
            self.languages = self.languages.replace(",", " ").split()
        if isinstance(self.scrub_names, str):
            self.scrub_names = [n.strip() for n in self.scrub_names.replace("\n", ",").split(",")]
        self.languages = [code.strip().lower() for code in self.languages if code.strip()]
        self.scrub_names = [name for name in self.scrub_names if name.strip()]
        self.max_run, self.min_chars_cjk, self.min_words = int(self.max_run), int(self.min_chars_cjk), int(self.min_words)
        self.near_dup_threshold, self.validation_fraction = float(self.near_dup_threshold), float(self.validation_fraction)
