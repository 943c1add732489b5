"""The publish gate's figures on personas of this registry (e.g. those trained from the fixtures, andre and koume,
on the bundled model), beside the base model's extraction rate from the same run (the floor).

    flock /tmp/heavy.lock python bench/gate.py andre koume [--prompts 16] [--extraction-posts 48]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.evaluation.gate import run_gate  # noqa: E402
from studio.persona.gate import GateConfig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="+")
    parser.add_argument("--prompts", type=int, default=GateConfig.prompts)
    parser.add_argument("--extraction-posts", type=int, default=GateConfig.extraction_posts)
    args = parser.parse_args()
    config = GateConfig(prompts=args.prompts, extraction_posts=args.extraction_posts)
    print(f"{'persona':16} {'outcome':8} {'private':>7} {'copy rate':>10} {'extraction':>10} {'base extr.':>10} "
          f"{'tested':>6} {'seconds':>8}")
    for name in args.names:
        record = run_gate(name, config)
        f = record["figures"]
        cells = ["-" if f[k] is None else f"{f[k]:.1%}" for k in ("copy_rate", "extraction_rate", "extraction_base")]
        print(f"{name:16} {'passed' if record['passed'] else 'REFUSED':8} {f['private_hits']:>7} {cells[0]:>10} "
              f"{cells[1]:>10} {cells[2]:>10} {f['extraction_tested']:>6} {f['seconds']:>8.1f}")
        for reason in record["reasons"]:
            print(f"  refused: {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
