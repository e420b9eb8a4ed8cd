"""Classifies outcomesd's missed true pairs on a public dataset, from the
clear-text benchmark files (public synthetic data, never council data).

In: a dataset name whose outcomesd run `evaluate.py` has left in
`.work/NAME/outcomesd/links.csv`. Out: counts per class of error, printed.
Promises: reads only; the classes are coarse and computed from the values
the two rows carry (edit distances, which dob parts agree), so a rerun after
a matcher change shows which kinds of error it recovered.

    .work/venv/bin/python misses.py febrl1 febrl2 febrl3
"""

import csv
import sys
from collections import Counter
from pathlib import Path

import evaluate as ev

WORK = Path(__file__).resolve().parent / ".work"


def lev(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def dob_parts(x: str, y: str) -> int:
    """How many of year, month, day agree (YYYYMMDD), -1 if one is blank."""
    if not x or not y:
        return -1
    return sum([x[:4] == y[:4], x[4:6] == y[4:6], x[6:] == y[6:]])


def classify(ra, rb) -> str:
    f, s = lev(ra.forename, rb.forename), lev(ra.surname, rb.surname)
    x = lev(ra.forename, rb.surname) + lev(ra.surname, rb.forename)
    parts = dob_parts(ra.dob, rb.dob)
    if x <= 2 and x < f + s:
        return f"names swapped, {x} further edits"
    if f > 1 and parts == 3:
        return "forename replaced, dob exact (twin pattern: household guard)"
    if f <= 1 and 0 <= parts < 2:
        return "dob differs in two or more parts (household guard)"
    if f > 1 and 0 <= parts < 2:
        return "forename and dob both differ (household guard)"
    return "other (below the threshold, ambiguous, or merged elsewhere)"


def main():
    for name in sys.argv[1:]:
        a, b = ev.DATASETS[name]()
        truth = ev.truth_pairs(a, b)
        with open(WORK / name / "outcomesd" / "links.csv", newline="") as fh:
            links = list(csv.DictReader(fh))
        # Export rows count the header as row 1 (see README).
        pa = {int(r["row"]) - 2: r["person"] for r in links if r["feed"] == "a"}
        pb = {int(r["row"]) - 2: r["person"] for r in links if r["feed"] == "b"}
        c = Counter()
        for i, j in truth:
            if i in pa and j in pb and pa[i] == pb[j]:
                continue
            if i not in pa or j not in pb:
                c["row rejected"] += 1
            else:
                c[classify(a.iloc[i], b.iloc[j])] += 1
        print(f"{name}: {sum(c.values())} missed of {len(truth)} true pairs")
        for k, v in c.most_common():
            print(f"  {v:5}  {k}")


if __name__ == "__main__":
    main()
