#!/usr/bin/env python3
"""Compares the verdicts `outcomesd demo --keep DIR` stored with the
synthetic truth (`DIR/feeds/truth_claims.csv`).

In: DIR. Out: counts of claims whose verdict differs from the one truth
expects, by (expected, got), and the first few case references; exit 1 if
any differ. Needs the `outcomesd` binary (env OUTCOMESD, default
target/release/outcomesd).
"""
import csv, json, os, subprocess, sys
from collections import Counter

d = sys.argv[1]
exe = os.environ.get("OUTCOMESD", "target/release/outcomesd")
out = subprocess.run([exe, "claims", "--config", f"{d}/outcomesd.toml", "--json"],
                     check=True, capture_output=True, text=True).stdout
got = {}
data = json.loads(out)
for c in data if isinstance(data, list) else data.get("claims", []):
    got[(c["case_ref"], c["outcome_id"], str(c["claim_date"]))] = c.get("verdict")
truth = list(csv.DictReader(open(f"{d}/feeds/truth_claims.csv")))
bad = Counter()
examples = []
for t in truth:
    k = (t["case_ref"], t["outcome_id"], t["claim_date"])
    g = got.get(k)
    if g != t["expected"]:
        bad[(t["expected"], g)] += 1
        examples.append(f'{k[0]} {k[1]} {k[2]}: expected {t["expected"]}, got {g}')
print(f"{len(truth)} claims, {sum(bad.values())} not as truth expects")
for (e, g), n in sorted(bad.items(), key=str):
    print(f"  expected {e}, got {g}: {n}")
for e in examples[:20]:
    print("  " + e)
sys.exit(1 if bad else 0)
