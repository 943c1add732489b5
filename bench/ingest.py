"""Ingest + clean throughput and near-duplicate scaling, each beside a baseline from the same run.

    python bench/ingest.py [--posts 100000 1000000] [--sizes 10000 100000 1000000]

1. Ingest + clean of N posts (a JSONL file built from the real fixtures, varied) at 100k and 1M posts, each in a
   fresh process: time (process start and building the file excluded) and peak RSS;
   baseline: the same with near-duplicate removal off (100k only)...
2. Near-duplicate stage alone at each size (synthetic posts, 5 % planted edited copies), in a fresh
   process each: time, peak memory (RSS) and the share found of the planted copies whose true Jaccard
   similarity (4-character shingles) is at least the 0.8 threshold;
   baseline: datasketch MinHash + MinHashLSH (same shingles, 64 permutations) up to 100k posts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT.parent / "shared" / "fixtures"


def fixture_posts() -> list[str]:
    from studio.ingest import load_file

    posts = load_file(FIXTURES / "koume-dayuu-tweets.csv") + load_file(FIXTURES / "x-archive-andreruffert.zip")
    return [p.text for p in posts]


def build_file(n: int, folder: Path) -> Path:
    """N posts: fixture posts with a few random words swapped in, so most are distinct."""
    rng = random.Random(0)
    base = fixture_posts()
    words = [w for t in base[:2000] for w in t.split()][:20000]
    path = folder / f"posts-{n}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            text = rng.choice(base)
            if i >= len(base):
                text = f"{text} {' '.join(rng.choices(words, k=3))} {i}"
            f.write(json.dumps({"text": text, "created_at": f"2021-01-{1 + i % 28:02d}", "lang": "ja"}, ensure_ascii=False) + "\n")
    return path


def ingest_child(path: str, near_dup: str) -> None:
    """Runs in its own process (peak RSS is this run's alone): read and clean one built file."""
    from studio.clean import CleanConfig, clean_posts
    from studio.ingest import load_file

    start = time.perf_counter()
    posts = load_file(path)
    loaded = time.perf_counter()
    kept, report = clean_posts(posts, CleanConfig(near_duplicates=near_dup == "on"))
    done = time.perf_counter()
    print(json.dumps({"seconds": done - start, "read": loaded - start, "clean": done - loaded, "kept": report.kept,
                      "peak_mb": peak_rss_mb()}))


def bench_ingest(sizes: list[int]) -> None:
    for n in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = build_file(n, Path(folder))
            runs = [("full pipeline", "on")] + ([("baseline: near-duplicates off", "off")] if n <= 100_000 else [])
            for label, near_dup in runs:
                env = {**os.environ, "STUDIO_MAX_UPLOAD_MB": "2000"}  # 1M posts are a ~200 MB file
                out = subprocess.run([sys.executable, __file__, "--ingest-child", str(path), near_dup],
                                     capture_output=True, text=True, env=env)
                if out.returncode != 0:
                    print(f"ingest+clean {n} posts, {label}: failed\n{out.stderr[-2000:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"ingest+clean {n:>9} posts, {label}: {r['seconds']:.2f} s (read {r['read']:.2f} s, clean "
                      f"{r['clean']:.2f} s), peak RSS {r['peak_mb']:.0f} MB, {r['kept']} kept", flush=True)


def synthetic(n: int, seed: int = 0) -> tuple[list[str], dict[int, int]]:
    """n posts of 4-15 words from a mixed English/Japanese vocabulary; 5 % are copies of an earlier post
    with one or two characters changed (the planted near-duplicates)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzあいうえおかきくけこさしすせそたちつてと日本語今晴雨"
    vocab = ["".join(rng.choices(letters, k=rng.randint(2, 8))) for _ in range(50_000)]
    texts, planted = [], {}
    for i in range(n):
        if i > 10 and rng.random() < 0.05:
            source = rng.randrange(i)
            chars = list(texts[source])
            for _ in range(rng.randint(1, 2)):
                chars[rng.randrange(len(chars))] = rng.choice(letters)
            texts.append("".join(chars))
            planted[i] = source
        else:
            texts.append(" ".join(rng.choices(vocab, k=rng.randint(8, 20))))
    return texts, planted


def jaccard(a: str, b: str, size: int = 4) -> float:
    sa, sb = ({t[i:i + size] for i in range(max(1, len(t) - size + 1))} for t in (a, b))
    return len(sa & sb) / len(sa | sb)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n: int, method: str) -> None:
    """Runs in its own process so that peak memory is this stage's alone."""
    texts, planted = synthetic(n)
    before = peak_rss_mb()
    start = time.perf_counter()
    if method == "studio":
        from studio.clean.near_dup import near_duplicates

        found = set(near_duplicates(texts, threshold=0.8))
    else:
        from datasketch import MinHash, MinHashLSH

        lsh, found = MinHashLSH(threshold=0.8, num_perm=64), set()
        shingles = ({t[i:i + 4].encode() for i in range(max(1, len(t) - 3))} for t in texts)
        for i, m in enumerate(MinHash.generator(shingles, num_perm=64)):
            if lsh.query(m):
                found.add(i)
            else:
                lsh.insert(i, m)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    similar = {i for i, j in planted.items() if jaccard(texts[i], texts[j]) >= 0.8}  # what should be found
    recall = len(found & similar) / max(1, len(similar))
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "before_mb": before, "recall": recall,
                      "flagged": len(found), "similar": len(similar), "false": len(found - set(planted))}))


def bench_scaling(sizes: list[int]) -> None:
    for n in sizes:
        methods = ["studio"] + (["datasketch"] if n <= 100_000 else [])
        for method in methods:
            out = subprocess.run([sys.executable, __file__, "--child", str(n), method], capture_output=True, text=True)
            if out.returncode != 0:
                print(f"near-dup {n} {method}: failed\n{out.stderr[-2000:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            label = "studio (numpy MinHash + LSH)" if method == "studio" else "baseline: datasketch MinHash + MinHashLSH"
            print(f"near-dup {n:>9} posts, {label}: {r['seconds']:6.2f} s, peak RSS {r['peak_mb']:6.0f} MB "
                  f"({r['peak_mb'] - r['before_mb']:5.0f} MB above the posts themselves), "
                  f"found {r['recall']:.1%} of the {r['similar']} planted copies with Jaccard >= 0.8, "
                  f"{r['false']} unplanted flagged")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--ingest-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(int(args.child[0]), args.child[1])
    if args.ingest_child:
        return ingest_child(*args.ingest_child)
    bench_ingest(args.posts)
    bench_scaling(args.sizes)


if __name__ == "__main__":
    main()
