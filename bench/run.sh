#!/usr/bin/env bash
# Engine speed beside River and Brian2 on this machine, in the same units: see bench/README.md.
#
#   bench/run.sh [STREAM.csv]
#
# Creates bench/.venv (CPython 3.11 or later: $PYTHON, default python3), installs the pinned
# requirements.txt, then runs, one thread each:
#   1. `spikewatch bench engine --stream STREAM` when a release binary is there ($SPIKEWATCH_BIN, default
#      $CARGO_TARGET_DIR/release/spikewatch or target/release/spikewatch);
#   2. River's HalfSpaceTrees and GaussianScorer over STREAM;
#   3. Brian2 on a network the size of spikewatch's scalar-channel layer (inputs, neurons and input spike
#      rate taken from step 1's notes when it ran, else brian2_bench.py's defaults).
# BENCH_REPEAT (default 3) passes over STREAM for spikewatch and River.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
stream="${1:-$root/../shared/data/nab/data/realKnownCause/machine_temperature_system_failure.csv}"
repeat="${BENCH_REPEAT:-3}"
venv="$here/.venv"

if [ ! -f "$stream" ]; then
    echo "error: no stream file at \`$stream\` (pass a NAB CSV as the first argument)" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

brian_args=()
bin="${SPIKEWATCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/spikewatch}"
echo "== spikewatch"
if [ -x "$bin" ]; then
    out="$("$bin" bench engine --stream "$stream" --repeat "$repeat")"
    echo "$out"
    # The first layer note is the scalar-channel model's layer, e.g.
    # "note: layer 22x64, CPU backend: ... 0.230 input spikes per input line per time step".
    layer="$(grep -m1 '^note: layer ' <<<"$out" || true)"
    if [ -n "$layer" ]; then
        brian_args=(
            --inputs "$(sed -E 's/^note: layer ([0-9]+)x.*/\1/' <<<"$layer")"
            --neurons "$(sed -E 's/^note: layer [0-9]+x([0-9]+).*/\1/' <<<"$layer")"
            --input-rate "$(sed -E 's/.*; ([0-9.]+) input spikes per input line.*/\1/' <<<"$layer")"
        )
    fi
else
    echo "no spikewatch binary at \`$bin\`: build it with \`cargo build --release -p spikewatch\` or set SPIKEWATCH_BIN"
fi

echo "== River"
"$venv/bin/python" "$here/river_bench.py" --repeat "$repeat" "$stream"

echo "== Brian2"
"$venv/bin/python" "$here/brian2_bench.py" "${brian_args[@]}"
