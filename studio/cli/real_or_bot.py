"""`real-or-bot`: write a persona's reply pool ahead, and print its real-or-bot results (studio.chat.real_or_bot).
The judges' page itself is `python app.py --real-or-bot NAME`."""

from __future__ import annotations

import json


def cmd_real_or_bot(args) -> int:
    from studio.chat.real_or_bot import RealOrBot, ranking

    rob = RealOrBot()
    if args.pool:
        added = rob.fill_pool(args.name, limit=args.pool)
        print(f"{added} replies written; {rob.pooled(args.name)} ready for rounds of {args.name}")
    slug = rob.registry.get(args.name).base_slug
    results, ranked = rob.results(slug), ranking(slug, rob)
    if args.json:
        print(json.dumps({"results": results, "ranking": ranked}, ensure_ascii=False, indent=1))
        return 0
    r = results["overall"]
    if not r["votes"]:
        print(f"{slug}: no real-or-bot votes yet. Serve the judges' page: python app.py --real-or-bot {slug}")
        return 0
    print(f"{slug}: fooled {r['fooled']} of {r['votes']} ({r['rate']:.0%}, 95 % interval {r['low']:.0%}-{r['high']:.0%}; "
          "about 50 % = indistinguishable)")
    for version, v in results["versions"].items():
        print(f"  {version}: {v['fooled']} of {v['votes']} ({v['rate']:.0%}, {v['low']:.0%}-{v['high']:.0%})")
    print("ranking (Bradley-Terry, arena + real-or-bot votes): " +
          ", ".join(f"{x['player']} {x['score']:+.2f}" for x in ranked))
    return 0


def add_commands(sub) -> None:
    """The `real-or-bot` command."""
    p = sub.add_parser("real-or-bot", help="real-or-bot test: write replies ahead, show fooled rates and the ranking",
                       description="Write the persona's replies to its held-out openings ahead (--pool N), so the judges' "
                                   "page (python app.py --real-or-bot NAME) answers at once; print the fooled rate with "
                                   "its 95 %% Wilson interval and the Bradley-Terry ranking.")
    p.add_argument("name", help="persona, or NAME@vN for one version")
    p.add_argument("--pool", type=int, default=0, metavar="N", help="write up to N replies ahead (0: none)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_real_or_bot)
