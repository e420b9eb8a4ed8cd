#!/usr/bin/env bash
# Rerunnable linkage evaluation: outcomesd against Splink on public data.
#
# In:  nothing but this repo, PyPI (for the pinned packages in
#      requirements.txt) and a Rust toolchain. Env:
#        LINKBENCH_WORK  work dir (default benches/linkage/.work)
#        OUTCOMESD       an outcomesd binary to use instead of building one
#        PYTHON          interpreter for the venv (default python3)
#        DATASETS        space-separated subset (default: all; see
#                        `evaluate.py --list`)
#        SKIP_SPLINK=1   score outcomesd only
#        SKIP_OUTCOMESD=1  score Splink only (and build nothing)
# Out: one line of JSON per dataset on stderr, the table on stdout, and
#      WORK/results.md, WORK/results.json, WORK/results/DATASET.json.
# Promises: the data come from the packages themselves (no download at run
#      time); each outcomesd run starts from a fresh data dir and key.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${LINKBENCH_WORK:-$here/.work}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
venv="$work/venv"
py="${PYTHON:-python3}"

# The venv is kept between runs; it is rebuilt when requirements.txt changes.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "== creating venv in $venv" >&2
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip >&2
    "$venv/bin/pip" install --quiet -r "$here/requirements.txt" >&2
    echo "$want" >"$stamp"
fi

args=(--work "$work")
if [[ "${SKIP_OUTCOMESD:-0}" == 1 ]]; then
    :
elif [[ -n "${OUTCOMESD:-}" ]]; then
    bin="$OUTCOMESD"
else
    echo "== building outcomesd (release)" >&2
    (cd "$root" && cargo build --release --quiet)
    bin="$root/target/release/outcomesd"
fi
if [[ "${SKIP_OUTCOMESD:-0}" != 1 ]]; then
    [[ -x "$bin" ]] || { echo "no outcomesd binary at $bin" >&2; exit 1; }
    args+=(--outcomesd "$bin")
fi

datasets="${DATASETS:-$("$venv/bin/python" "$here/evaluate.py" --work "$work" --list)}"
if [[ "${SKIP_SPLINK:-0}" == 1 ]]; then args+=(--skip-splink); fi

# The evaluation's own checks first (the outcomesd one needs the binary).
echo "== self-checks (test_evaluate.py)" >&2
(cd "$here" && OUTCOMESD="${bin:-}" "$venv/bin/python" -m unittest -q test_evaluate) >&2

rm -rf "$work/results"
for d in $datasets; do
    echo "== $d" >&2
    # pseudopeople's progress bars and Splink's training notes are noise here;
    # the last stderr line is the dataset's summary.
    if ! "$venv/bin/python" "$here/evaluate.py" "${args[@]}" --dataset "$d" \
        >"$work/$d.log" 2>&1; then
        tail -n 30 "$work/$d.log" >&2
        exit 1
    fi
    tail -n 1 "$work/$d.log" >&2
done

"$venv/bin/python" "$here/evaluate.py" --work "$work" --report
