"""Quality bench: does a persona sound like them, and does it still know what the base knew?

    python bench/quality.py [--quick] [--fixtures andre koume] [INGEST.jsonl ...] [--config NAME:key=value,...]
                            [--base bundled] [--seed 0] [--json rows.json] [--lock /tmp/tests.lock]

On each fixture (andre: English X archive; koume: Japanese CSV; loaded with studio.ingest.load_posts, cleaned
by train_persona) and on each ingest output given (a JSONL of posts from `python -m studio ingest`), a persona
is trained under each option set through `studio.training.run.train_persona` (its own registry in a temp
folder, evaluation off), then evaluated with `evaluate_persona` (EvalConfig defaults; --quick: fewer prompts)
on the model just trained. Option sets, in this order:
  seed recipe          LoRA r16 alpha 32 dropout 0.05 on q_proj,v_proj, lr 2e-4, 60 steps (the rest as the snapshot)
  defaults@2026-12-01  TrainConfig() as on main on 2026-12-01 (snapshot; fields added since are set off)
  new defaults         TrainConfig() at run time (left out while it equals the snapshot)
  NAME                 each --config NAME:key=value,...: TrainConfig() with those fields (typed as the dataclass's)
One table per fixture, one row per option set: style (embedding similarity persona/base/real posts; char n-gram
profile distance persona/base/real, 0 = same profile; discriminator AUC persona/base, 0.5 = cannot tell the
replies from their real posts), knowledge kept (probe questions the base answered right and the persona still
does), copy rate (replies that copy a training post), held-out loss (base -> persona), persona facts known
(persona/base of asked), extraction rate (persona's greedy continuations of a training post's first k tokens
that reproduce it, k = 8/16/32), training minutes (train_persona's run), evaluation minutes, posts/s (rows
trained per second over optimizer steps 2..N, leaving out steps in which a validation loss or probe ran) and
x seed: posts/s over the seed recipe's posts/s measured with the seed's real trainer (bench/seed_recipe.py:
whole-set padding, labels on every token, timed over --seed-steps steps after a warm-up, as bench/train.py;
run before and after the option sets, the faster counting: the machine's speed drifts by 10-30 % over minutes).
"-" marks a measure the evaluation does not produce (yet). Targets beside the figures: knowledge kept >= 90 %,
copy rate <= 5 %, discriminator AUC <= base AUC - 0.1 (English fixture), posts/s >= 4x the seed recipe's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
FIXTURES = {"andre": ROOT.parent / "shared" / "fixtures" / "x-archive-andreruffert.zip",
            "koume": ROOT.parent / "shared" / "fixtures" / "koume-dayuu-tweets.csv"}
ENGLISH = ("andre",)  # the fixtures the discriminator target applies to
TARGETS = {"kept": 0.9, "copy": 0.05, "auc_gap": 0.1, "speed": 4.0}
QUICK = {"posts": 300, "steps": 8, "prompts": 4, "loss_posts": 16, "seed_steps": 2}
DEFAULT = {"posts": 0, "steps": 0, "prompts": 48, "loss_posts": 0, "seed_steps": 8}  # 0: all posts, each set's own steps, EvalConfig's; 48 prompts: the AUC of 16 varies +-0.1
SIZE_HELP = {"posts": "posts sampled from each input (seeded); 0 = all", "steps": "max_steps of every option set; 0 = each set's own",
             "prompts": "EvalConfig.prompts; 0 = its default", "loss_posts": "EvalConfig.loss_posts; 0 = its default",
             "seed_steps": "timed steps of the seed recipe's trainer; 0 = not measured"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", type=Path, help="ingest outputs (JSONL of posts) to bench beside the fixtures")
    p.add_argument("--fixtures", nargs="*", default=list(FIXTURES), choices=list(FIXTURES), help="fixtures (none: only INPUTS)")
    p.add_argument("--config", action="append", default=[], metavar="NAME:key=value,...", help="an extra option set")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these option sets (e.g. 'new defaults' batch8)")
    p.add_argument("--base", default="bundled", help="base model of every option set ('bundled', a folder, a Hub id)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample, training and evaluation")
    p.add_argument("--quick", action="store_true", help="smoke run: %(posts)d posts, %(steps)d steps, %(prompts)d prompts" % QUICK)
    for key, what in SIZE_HELP.items():
        p.add_argument("--" + key.replace("_", "-"), type=int, default=None, help=what)
    p.add_argument("--facts", action="append", default=[], metavar="LABEL=FILE",
                   help="the person's facts for a fixture or input (e.g. koume=facts.jsonl), asked by the evaluation")
    p.add_argument("--json", type=Path, help="write the rows (with each set's config) to this file")
    p.add_argument("--lock", help="flock this file around each training + evaluation (e.g. /tmp/tests.lock)")
    args = p.parse_args(argv)
    size = {**(QUICK if args.quick else DEFAULT)}
    size.update({k: getattr(args, k) for k in DEFAULT if getattr(args, k) is not None})
    args.size = size
    pairs = [spec.partition("=") for spec in args.facts]
    if any(not sep or not label or not file for label, sep, file in pairs):
        p.error("--facts is LABEL=FILE, e.g. koume=facts.jsonl")
    args.facts = {label: Path(file) for label, _, file in pairs}
    return args


def load(label: str, path: Path, size: dict, seed: int) -> tuple[list, list]:
    """All the posts of one fixture or input, and those trained on: a seeded sample of `size['posts']` when set."""
    from studio.ingest import load_posts

    posts = chosen = load_posts([path])
    if size["posts"] and len(posts) > size["posts"]:
        chosen = random.Random(seed).sample(posts, size["posts"])
    print(f"{label}: {path.name}, {len(posts)} posts" + (f", a seeded sample of {len(chosen)} trained on" if chosen is not posts else ""), flush=True)
    return posts, chosen


def _num(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" ok" if ok else " NO")


def cells(row: dict, seed_rate: float | None, english: bool) -> list[str]:
    """The table cells of one row, each target's ok/NO beside its figure."""
    sim, ngram, disc = row["similarity"] or {}, row["ngram"] or {}, row["discriminator"] or {}
    k, loss, facts, ext = row["knowledge"], row["loss"] or {}, row["facts"], row["extraction"]
    share = k["kept"] / k["known"] if k and k["known"] else None
    gap = disc["persona"] <= disc["base"] - TARGETS["auc_gap"] if english and disc.get("persona") is not None and disc.get("base") is not None else None
    copy = row["copy_rate"]
    ratio = row["posts_per_s"] / seed_rate if row["posts_per_s"] and seed_rate else None
    row["x_seed"] = round(ratio, 3) if ratio else None
    return [
        row["name"], str(row["steps"]),
        "/".join(_num(sim.get(s)) for s in ("persona", "base", "real")) if sim else "-",
        "/".join(_num(ngram.get(s)) for s in ("persona", "base", "real")) if ngram else "-",
        ("/".join(_num(disc.get(s)) for s in ("persona", "base")) + _mark(gap)) if disc else "-",
        f"{k['kept']}/{k['known']} {_num(share, '.0%')}{_mark(None if share is None else share >= TARGETS['kept'])}" if k else "-",
        f"{_num(copy, '.0%')}{_mark(None if copy is None else copy <= TARGETS['copy'])}",
        f"{_num(loss.get('base'))} -> {_num(loss.get('persona'))}" if loss else "-",
        f"{facts['persona_known']}/{facts['base_known']} of {facts['asked']}" if facts else "-",
        " ".join(_num((ext.get(n) or {}).get("persona"), ".0%") for n in ("8", "16", "32"))
        + " (b " + " ".join(_num((ext.get(n) or {}).get("base"), ".0%") for n in ("8", "16", "32")) + ")" if ext else "-",
        _num(row["train_minutes"], ".1f"), _num(row["eval_minutes"], ".1f"), _num(row["posts_per_s"]),
        f"{_num(ratio)}x{_mark(None if ratio is None else ratio >= TARGETS['speed'])}",
    ]


HEADER = ["option set", "steps", "similarity p/b/real", "ngram dist p/b/real", "disc AUC p/b", "knowledge kept",
          "copy", "held-out loss b -> p", "facts p/b", "extraction k8/16/32 p (b)", "train min", "eval min", "posts/s", "x seed"]


def table(label: str, rows: list[dict], seed: dict | None) -> str:
    """One fixture's table (markdown), the targets as its last line."""
    english = label in ENGLISH
    rate = seed["posts_per_s"] if seed else None
    body = [cells(r, rate, english) for r in rows]
    target = ["target", "", "", "", f"p <= b - {TARGETS['auc_gap']}" + (" (en)" if english else " (en only)"),
              f">= {TARGETS['kept']:.0%}", f"<= {TARGETS['copy']:.0%}", "", "", "", "", "", "", f">= {TARGETS['speed']:.0f}x"]
    widths = [max(len(line[i]) for line in [HEADER, target, *body]) for i in range(len(HEADER))]
    fmt = lambda line: "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |"
    lines = [fmt(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, body), fmt(target)]
    runs = " and ".join(f"{rate:.2f}" for rate in seed.get("runs", [])) if seed else ""
    speed = (f"seed recipe's trainer (whole-set padding, naive labels): {seed['posts_per_s']:.2f} posts/s "
             f"({seed['posts']} posts in {seed['seconds']:.1f} s; the faster of its runs before and after the "
             f"option sets: {runs})") if seed else "seed recipe's trainer: not measured"
    return f"\n### {label}\n{speed}\n" + "\n".join(lines)


def bench(args) -> dict:
    """Every option set on every fixture and input; returns {label: {"rows": [...], "seed": {...}, "table": str}}."""
    from quality_options import differs, option_sets
    from quality_runs import WAITED, run_row, seed_speed

    from studio.evaluation.config import EvalConfig

    size = args.size
    sets = option_sets(args.base, args.config, size["steps"])
    snapshot = sets[1].config
    if args.only:
        unknown = sorted(set(args.only) - {s.name for s in sets})
        if unknown:
            raise SystemExit(f"--only {', '.join(unknown)}: no such option set; they are: {', '.join(s.name for s in sets)}")
        sets = [s for s in sets if s.name in args.only]
    for s in sets:
        print(f"option set {s.name}: {differs(s.config, snapshot) or 'as the snapshot'}" + (f" ({s.note})" if s.note else ""))
    eval_config = EvalConfig(seed=args.seed, **{k: size[k] for k in ("prompts", "loss_posts") if size[k]})
    sources = [(name, FIXTURES[name]) for name in args.fixtures] + [(p.stem, p) for p in args.inputs]
    out = {}
    for label, path in sources:
        every, posts = load(label, path, size, args.seed)
        started, waited = time.perf_counter(), WAITED["seconds"]
        # the seed's rows are as wide as the longest post of the whole train split: measured on all the posts, as bench/train.py
        seeds = [seed_speed(every, args.base, size["seed_steps"], args.lock)] if size["seed_steps"] else []
        rows = []
        for option in sets:
            option.config.seed = args.seed
            rows.append(run_row(posts, option, eval_config, args.lock, label, args.facts.get(label)))
            r = rows[-1]
            print(f"  {label} / {option.name}: {r['steps']} steps in {r['train_minutes']:.1f} min, evaluated in "
                  f"{r['eval_minutes']:.1f} min; {r['summary']}", flush=True)
        if seeds:  # again after the option sets: this shared CPU drifts, and the faster run counts (against us)
            seeds.append(seed_speed(every, args.base, size["seed_steps"], args.lock))
        seed = {**max(seeds, key=lambda run: run["posts_per_s"]), "runs": [run["posts_per_s"] for run in seeds]} if seeds else None
        out[label] = {"rows": rows, "seed": seed, "table": table(label, rows, seed),
                      "minutes": round((time.perf_counter() - started - WAITED["seconds"] + waited) / 60, 2)}
        print(out[label]["table"] + f"\n({label}: {out[label]['minutes']:.1f} min, waits for the lock left out)", flush=True)
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)
    from transformers.utils import logging as hf_logging

    from studio.errors import StudioError

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    print(f"quality bench: size {args.size}, base {args.base}, seed {args.seed}, {os.cpu_count()} CPUs", flush=True)
    try:
        out = bench(args)
    except StudioError as exc:
        raise SystemExit(f"error: {exc}") from None
    from quality_runs import WAITED

    total = (time.perf_counter() - started - WAITED["seconds"]) / 60
    print(f"\ntotal {total:.1f} min" + (f" (and {WAITED['seconds'] / 60:.1f} min waiting for {args.lock})" if args.lock else ""))
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "base": args.base, "seed": args.seed, "minutes": round(total, 2),
                                         "fixtures": {k: {"seed_recipe_trainer": v["seed"], "rows": v["rows"]} for k, v in out.items()}},
                                        indent=1, ensure_ascii=False), encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
