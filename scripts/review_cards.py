#!/usr/bin/env python3
"""How many cards a reviewer faces on a generated corpus, against how many distinct causes it holds.

    nianbao eval synth --n 1000 --seed 42 --damage 0.05 --row-damage 0.1 --inject 100 \\
        --from-gold tests/fixtures -o out/synth
    nianbao run out/synth --db out/synth.db
    python scripts/review_cards.py out/synth --db out/synth.db

Distinct causes are the gold's expected findings (one per injected error, damaged glyph, dropped
or doubled cell). A card is what the review page shows (review/causes.py). Every injected error
must have a card holding an arithmetic finding on its cell.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from nianbao.review.causes import group
from nianbao.review.decide import review_findings
from nianbao.review.store import Store


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path, help="folder written by `nianbao eval synth` (reports and gold)")
    ap.add_argument("--db", required=True, help="store the corpus was run into")
    args = ap.parse_args(argv)
    store = Store(args.db)
    causes = findings = cards = injected = injected_with_card = 0
    by_severity: Counter[str] = Counter()
    missing: list[str] = []
    for doc in store.documents():
        gold_path = args.corpus / f"{Path(doc.name).stem}.gold.json"
        if doc.current_extraction_id is None or not gold_path.is_file():
            continue
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        causes += len(gold["findings"]["expected"])
        fs = review_findings(store, doc.id)
        findings += len(fs)
        doc_cards = group(fs)
        cards += len(doc_cards)
        by_severity.update(c.severity for c in doc_cards)
        if gold.get("synth", {}).get("injected"):
            for exp in gold["findings"]["expected"]:
                if exp["category"] != "arithmetic":
                    continue
                injected += 1
                key = exp["keys"][0]
                if any(f["category"] == "arithmetic" and key in f["keys"] for c in doc_cards for f in c.findings):
                    injected_with_card += 1
                else:
                    missing.append(f"{doc.name} {key}")
    ratio = cards / causes if causes else float("nan")
    print(f"reports {len(store.documents())}  distinct causes {causes}  findings {findings}  cards {cards} "
          f"({', '.join(f'{by_severity[s]} {s}' for s in ('error', 'warning', 'info'))})")
    print(f"cards / causes = {ratio:.2f}  (target ≤ 1.5)")
    print(f"injected errors {injected}, with a card {injected_with_card}")
    for m in missing[:20]:
        print(f"  no card: {m}")
    return 0 if ratio <= 1.5 and injected == injected_with_card else 1


if __name__ == "__main__":
    sys.exit(main())
