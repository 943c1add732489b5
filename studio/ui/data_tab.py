"""Data tab: upload or paste posts, choose cleaning options, see the funnel and untick posts."""

from __future__ import annotations

import copy
from pathlib import Path

import gradio as gr
import pandas as pd

from studio.clean import CleanConfig, CleanReport, clean_posts
from studio.clean.sources import source_key
from studio.errors import InputError
from studio.ingest import SUPPORTED, UPLOAD_SUFFIXES, Post, list_speakers, load_posts, parse_pasted
from studio.ingest.base import read_text
from studio.ingest.table import table_columns
from studio.ui.common import user_errors
from studio.ui.fit_line import fit_markdown

DETECT = "(detect)"
MAX_ROWS = 20_000
COLUMNS = ["use", "#", "post", "date", "lang"]
COLOURS = [("#f97316", "orange"), ("#3b82f6", "blue"), ("#10b981", "green"), ("#a855f7", "purple"), ("#ef4444", "red"),
           ("#eab308", "yellow"), ("#06b6d4", "cyan"), ("#64748b", "grey")]
"""The funnel's bar colour per source, in upload order (the summary's mix line names them: the plot has no key)."""


def _paths(files) -> list[str]:
    return [f if isinstance(f, str) else f.name for f in (files or [])]


def columns_for(files):
    """Offer the columns of the first CSV/TSV upload, so the user can pick the text column."""
    for path in _paths(files):
        if Path(path).suffix.lower() in (".csv", ".tsv"):
            try:
                columns = table_columns(read_text(Path(path).read_bytes()[:1_000_000], Path(path).name))
            except InputError:
                break
            return gr.Dropdown(choices=[DETECT, *columns], value=DETECT, visible=True)
    return gr.Dropdown(choices=[DETECT], value=DETECT, visible=False)


CHAT_SUFFIXES = (".txt", ".json", ".csv")
"""Chat exports are text files: archives and CAR files are not read twice on upload to look for speakers."""


def speakers_for(files):
    """Offer the chat speakers of the uploads with their counts. One speaker is chosen for you; with
    several, none is: whose words the persona learns is the user's choice, and loading asks for it."""
    paths = [p for p in _paths(files) if Path(p).suffix.lower() in CHAT_SUFFIXES]
    try:
        counts = list_speakers(paths) if paths else []
    except InputError:
        counts = []  # "Load and clean posts" shows what is wrong with the file
    if not counts:
        return gr.Dropdown(choices=[], value=None, multiselect=True, visible=False)
    info = ("One person in this chat: their messages are used." if len(counts) == 1 else
            f"{len(counts)} people in this chat: pick whose messages are the persona's (the others' messages "
            "become what each message answers).")
    return gr.Dropdown(choices=[(f"{name} ({n} messages)", name) for name, n in counts],
                       value=[counts[0][0]] if len(counts) == 1 else [], multiselect=True, visible=True,
                       info=info)


def funnel_frame(report: CleanReport) -> pd.DataFrame:
    """(stage, posts left, source): with several sources each bar is split by source."""
    if len(report.sources) < 2:
        return pd.DataFrame([[*row, "all"] for row in report.funnel()], columns=["stage", "posts", "source"])
    rows = []
    for name, s in report.sources.items():
        left = s["loaded"]
        rows.append(["loaded", left, name])
        for step in report.removed:
            left -= s["removed"].get(step, 0)
            rows.append([step, left, name])
        rows.append(["kept", s["kept"], name])
    return pd.DataFrame(rows, columns=["stage", "posts", "source"])


def sources_frame(report: CleanReport) -> pd.DataFrame:
    """The funnel per upload: kind, loaded, removed by each step, kept and its share of the kept posts."""
    rows = report.source_funnel()
    columns = ["source", "kind", "loaded", *report.removed, "kept", "share"]
    return pd.DataFrame([[r["source"], r["kind"], r["loaded"], *(r[step] for step in report.removed), r["kept"],
                          f"{r['share']:.0%}"] for r in rows], columns=[c.replace("_", " ") for c in columns])


def steps_frame(report: CleanReport) -> pd.DataFrame:
    rows = []
    for name, step in report.steps.items():
        if not (step.removed or step.changed):
            continue
        examples = " | ".join(
            " ".join(e["text"].split())[:70] if "text" in e else f"{' '.join(e['before'].split())[:40]} → {' '.join(e['after'].split())[:40]}"
            for e in step.examples[:2])
        rows.append([name.replace("_", " "), step.removed, step.changed, examples])
    return pd.DataFrame(rows, columns=["step", "removed", "changed", "examples"])


def stats_markdown(report: CleanReport) -> str:
    stats, privacy = report.stats, report.privacy
    dates = " to ".join(stats["date_range"]) if stats.get("date_range") else "no dates in the export"
    languages = ", ".join(f"{code} {n}" for code, n in list(stats["languages"].items())[:6])
    length = stats["length_chars"]
    mix = ", ".join(f"{r['source']} {r['share']:.0%} ({COLOURS[i % len(COLOURS)][1]})"
                    for i, r in enumerate(report.source_funnel()))
    scrubbed = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in privacy.items() if n) or "nothing found"
    return (f"**{report.loaded}** posts loaded, **{report.kept}** kept.  \n"
            f"Dates: {dates}. Languages: {languages}. Length (characters): median {length['median']:g}, "
            f"90% under {length['p90']}, longest {length['max']}.  \nPrivacy: replaced {scrubbed}."
            + (f"  \nMix of the kept posts: {mix}." if len(report.sources) > 1 else "") + "  \n" + style_line(report))


def style_line(report: CleanReport) -> str:
    """The style check: which measures of how the person writes the cleaning moved, and by which step."""
    rows = report.style_changes
    if not rows:
        return "Style check: the cleaning left every style measure as written."
    moved = "; ".join(f"{r['measure'].replace('_', ' ')} {r['raw']:g} → {r['cleaned']:g} ({', '.join(r['by']) or 'undocumented'})"
                      for r in rows)
    return f"Style check (rates per post, shares 0-1; raw → cleaned, steps that document it): {moved}."


@user_errors
def load(files, pasted: str, column: str, replies, urls, mentions, hashtags, languages, max_run, near_dup,
         threshold, names, validation, include_private, speakers=None):
    paths = _paths(files)
    if not paths and not (pasted or "").strip():
        raise InputError(f"Nothing to load: upload a file ({SUPPORTED}) or paste posts, one per line.")
    config = CleanConfig(replies=replies, urls=urls, mentions=mentions, hashtags=hashtags, languages=languages or "",
                         max_run=int(max_run), near_duplicates=near_dup, near_dup_threshold=threshold,
                         scrub_names=names or "", validation=validation)
    text_column = None if column in (None, DETECT) else column
    posts: list[Post] = load_posts(paths, text_column=text_column, include_private=include_private,
                                   speakers=speakers or None) if paths else []
    if (pasted or "").strip():
        posts += parse_pasted(pasted)
    kept, report = clean_posts(posts, config)
    if report.kept < 100:
        gr.Warning(f"Only {report.kept} posts kept: expect a weak persona. A few hundred or more work better.")
    if report.kept > MAX_ROWS:
        gr.Warning(f"{report.kept} posts: the table shows the first {MAX_ROWS}; all are used for training.")
    table = pd.DataFrame([[True, i, p.text, (p.created_at or "")[:10], p.lang or ""] for i, p in enumerate(kept[:MAX_ROWS])],
                         columns=COLUMNS)
    return ([p.to_dict() for p in kept], report, config, stats_markdown(report),
            gr.BarPlot(value=funnel_frame(report), sort=[stage for stage, _ in report.funnel()], y_lim=[0, report.loaded],
                       color="source" if len(report.sources) > 1 else None,
                       color_map={name: COLOURS[i % len(COLOURS)][0] for i, name in enumerate(report.sources)} if len(report.sources) > 1 else None),
            steps_frame(report), sources_frame(report), table)


def selected(posts: list[dict], report: CleanReport | None, table) -> tuple[list[Post], CleanReport | None]:
    """The posts still ticked in the table (and those past the table's last row); the report counts the rest."""
    if not posts or report is None:
        return [], report
    report = copy.deepcopy(report)  # the loaded report stays as it was for the next training
    unticked = set()
    if table is not None and len(table):
        unticked = {int(row["#"]) for _, row in table.iterrows() if not bool(row["use"])}
    for index in sorted(unticked):
        report.drop("unticked", posts[index]["text"], source_key(posts[index]))
    report.kept -= len(unticked)
    return [Post.from_dict(p) for i, p in enumerate(posts) if i not in unticked], report


def build():
    """Returns (posts state, report state, clean-config state, posts table) for the Train tab."""
    gr.Markdown(f"Upload a person's posts ({SUPPORTED}) or paste them, one per line. "
                "Retweets, links and noise are removed; the funnel shows what each step did.")
    with gr.Row():
        files = gr.File(label="Files with posts", file_count="multiple", file_types=UPLOAD_SUFFIXES, elem_id="data-files")
        with gr.Column():
            pasted = gr.Textbox(label="…or paste posts (one per line)", lines=5, elem_id="data-paste")
            column = gr.Dropdown(label="CSV text column", choices=[DETECT], value=DETECT, visible=False)
            speakers = gr.Dropdown(label="Whose messages", choices=[], value=None, multiselect=True, visible=False,
                                   elem_id="data-speakers")
    help_ = CleanConfig.help()
    with gr.Accordion("Cleaning options", open=False):
        with gr.Row():
            replies = gr.Dropdown(["strip", "drop", "keep"], value="strip", label="Replies", info=help_["replies"])
            urls = gr.Dropdown(["remove", "mask", "keep"], value="remove", label="Links", info=help_["urls"])
            mentions = gr.Dropdown(["mask", "remove", "keep"], value="mask", label="@mentions", info=help_["mentions"])
            hashtags = gr.Dropdown(["keep", "remove"], value="keep", label="#hashtags", info=help_["hashtags"])
        with gr.Row():
            languages = gr.Textbox(label="Languages to keep", placeholder="e.g. ja en (empty: all)", info=help_["languages"])
            max_run = gr.Slider(0, 10, value=2, step=1, label="Cap repeated marks at", info=help_["max_run"])
            near_dup = gr.Checkbox(value=True, label="Remove near-duplicates", info=help_["near_duplicates"])
            threshold = gr.Slider(0.5, 1.0, value=CleanConfig.near_dup_threshold, step=0.01, label="Near-duplicate similarity",
                                  info=help_["near_dup_threshold"])
        with gr.Row():
            names = gr.Textbox(label="Names to scrub (comma separated)", info=help_["scrub_names"])
            validation = gr.Dropdown(["random", "newest"], value="random", label="Validation posts", info=help_["validation"])
            include_private = gr.Checkbox(value=False, label="Include Mastodon followers-only and direct posts",
                                          info="Left out by default: they were not written for everyone.")
    load_button = gr.Button("Load and clean posts", variant="primary", elem_id="data-load")
    summary = gr.Markdown(elem_id="data-summary")
    fit_note = gr.Markdown(elem_id="data-fit")  # does the default base model fit their language? (after loading)
    with gr.Row():
        funnel = gr.BarPlot(x="stage", y="posts", label="Cleaning funnel", height=260, elem_id="data-funnel")
        steps = gr.Dataframe(headers=["step", "removed", "changed", "examples"], label="What each step did",
                             interactive=False, wrap=True, elem_id="data-steps")
    sources = gr.Dataframe(label="Each source: loaded, removed by each step, kept, share of the kept posts",
                           interactive=False, elem_id="data-sources")
    table = gr.Dataframe(headers=COLUMNS, datatype=["bool", "number", "str", "str", "str"], label="Kept posts: untick any you do not want",
                         interactive=True, wrap=True, max_height=420, elem_id="data-posts")
    posts, report, config = gr.State([]), gr.State(None), gr.State(None)
    files.change(columns_for, files, column)
    files.change(speakers_for, files, speakers)
    load_button.click(load, [files, pasted, column, replies, urls, mentions, hashtags, languages, max_run, near_dup,
                             threshold, names, validation, include_private, speakers],
                      [posts, report, config, summary, funnel, steps, sources, table]).then(fit_markdown, posts, fit_note)
    return posts, report, config, table
