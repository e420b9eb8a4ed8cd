"""Checks of the evaluation's own parts: the reshaping maps and the scorer.

In: nothing (stdlib unittest and pandas from the bench venv).
Out: pass/fail. Run: `.work/venv/bin/python -m unittest -v test_evaluate`
  from benches/linkage (run.sh runs it before the datasets).
Promises: the postcode and NHS maps are injective and give values outcomesd
  accepts; the CSV row numbers the scorer reads back are the ones outcomesd
  reports; pairwise scoring counts cross-file pairs only.
"""

import csv
import itertools
import os
import subprocess
import re
import tempfile
import unittest
from pathlib import Path

import pandas as pd

import evaluate as E

UK = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$")


def nhs_valid(s: str) -> bool:
    total = sum(int(c) * (10 - i) for i, c in enumerate(s[:9]))
    check = (11 - total % 11) % 11
    return len(s) == 10 and check != 10 and check == int(s[9])


class Reshape(unittest.TestCase):
    def test_postcodes_injective_and_uk_shaped(self):
        for width in (4, 5):
            seen = set()
            for t in itertools.product("0123456789", repeat=width):
                pc = E.digits_to_postcode("".join(t))
                self.assertRegex(pc, UK)
                self.assertFalse(set(pc.split()[1][1:]) & set("CIKMOV"), pc)
                seen.add(pc)
            self.assertEqual(len(seen), 10**width)
        self.assertEqual(E.digits_to_postcode("12a4"), "12a4")  # malformed passes through
        self.assertEqual(E.digits_to_postcode(""), "")

    def test_nhs_numbers_valid_distinct_or_empty(self):
        seen = {}
        for n in range(0, 10**7, 997):
            s = E.nhs_from_digits(f"{n:07d}")
            if s:
                self.assertTrue(nhs_valid(s), s)
                self.assertNotIn(s, seen)
                seen[s] = n
        self.assertGreater(len(seen), 9000)
        # 1234567 gives 101234567 + check 10 or a digit; whichever, it is valid or empty.
        self.assertIn(E.nhs_from_digits("1234567")[:9], ("", "101234567"))
        self.assertEqual(E.nhs_from_digits("123456"), "")

    def test_us_dob(self):
        self.assertEqual(E.us_dob("05/06/1994"), "1994-05-06")
        self.assertEqual(E.us_dob("12042018"), "2018-12-04")
        self.assertEqual(E.us_dob("13/06/1994"), "13/06/1994")  # not a date: raw
        self.assertEqual(E.us_dob(""), "")


class Scoring(unittest.TestCase):
    def test_cross_file_pairs_only(self):
        a = pd.DataFrame({"entity": [1, 1, 2]})
        b = pd.DataFrame({"entity": [1, 3]})
        truth = E.truth_pairs(a, b)
        self.assertEqual(truth, {(0, 0), (1, 0)})
        s = E.score({(0, 0), (2, 1)}, truth)
        self.assertEqual((s["tp"], s["fp"], s["fn"]), (1, 1, 1))
        self.assertAlmostEqual(s["f1"], 0.5)

    def test_feed_rows_are_numbered_as_outcomesd_reports(self):
        # Header is row 1; the #period line of B is not counted.
        a = pd.DataFrame({c: ["x", "y"] for c in E.IDENT})
        with tempfile.TemporaryDirectory() as d:
            E.write_feeds(a, a, Path(d))
            for name, skip in (("a_case.csv", 0), ("b_police.csv", 1)):
                lines = (Path(d) / name).read_text().splitlines()[skip:]
                rows = list(csv.reader(lines))
                # frame row n is CSV row n + 2
                self.assertEqual([r[-1] for r in rows[1:]], ["x", "y"])
                self.assertTrue(lines[0].startswith(("case_ref", "record_type")))


@unittest.skipUnless(os.environ.get("OUTCOMESD"), "set OUTCOMESD to an outcomesd binary")
class AgainstOutcomesd(unittest.TestCase):
    def test_rejection_report_row_numbers_match_frame_rows(self):
        # Frame row 1 of each file gets a bad event date (case_start, date),
        # which rejects a row under any matcher; the report must name CSV row 3.
        ok = {"forename": "Ann", "surname": "Lee", "dob": "1980-01-02", "postcode": "B12 3AA",
              "address": "1 High St", "nhs_number": ""}
        a = pd.DataFrame([ok, ok, ok])
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            E.write_feeds(a, a, d)
            for f, skip, good in (("a_case.csv", 1, "2020-01-01"), ("b_police.csv", 2, "2020-06-01")):
                lines = (d / f).read_text().split("\n")
                lines[skip + 1] = lines[skip + 1].replace(good, "2020-13-45")
                (d / f).write_text("\n".join(lines))
            run = d / "run"
            run.mkdir(mode=0o700)
            (run / "key").mkdir(mode=0o700)
            (run / "data").mkdir(mode=0o700)
            subprocess.run([os.environ["OUTCOMESD"], "keygen", "--out", str(run / "key/hmac.key")],
                           check=True, capture_output=True)
            cfg = run / "c.toml"
            cfg.write_text('data_dir = "data"\nkey_file = "key/hmac.key"\n[feeds.a]\nkind = "case"\n'
                           '[feeds.b]\nkind = "police"\n')
            for feed, f in (("a", "a_case.csv"), ("b", "b_police.csv")):
                subprocess.run([os.environ["OUTCOMESD"], "ingest", "--config", str(cfg), "--feed", feed,
                                str(d / f)], check=True, capture_output=True)
            reports = sorted((run / "data" / "reports").glob("*.csv"))
            self.assertEqual(len(reports), 2, reports)
            for rep in reports:
                rows = {r["row"] for r in csv.DictReader(rep.open())}
                self.assertEqual(rows, {"3"}, rep.name)


if __name__ == "__main__":
    unittest.main()
