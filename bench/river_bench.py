"""River's anomaly detectors over the same scalar stream that `spikewatch bench engine --stream` runs.

Usage: river_bench.py [--repeat N] [--min-seconds S] FILE.csv

FILE is a NAB CSV (`timestamp,value`). Each detector scores, then learns, every reading in order
(`score_one` before `learn_one`, as River's docs do), over the stream repeated N times, on one thread:

- HalfSpaceTrees (default parameters) behind an online MinMaxScaler, as River's docs recommend (HST
  assumes features in [0, 1]);
- GaussianScorer (default parameters), River's simplest detector, on the raw value.

Passes are repeated until at least --min-seconds have been timed, so fast detectors are timed long enough
too. Prints one line per detector in the units of `spikewatch bench engine` (samples/s).
"""

import argparse
import csv
import platform
import sys
import time

import river
from river import anomaly, compose, preprocessing


def load(path):
    """The `value` column as floats, in file order."""
    with open(path, newline="") as f:
        return [float(row["value"]) for row in csv.DictReader(f)]


def time_detector(make, step, values, repeat, min_seconds):
    """Times `step(model, v)` over `values` `repeat` times (more if under `min_seconds`) on a fresh model."""
    model = make()
    passes, samples = 0, 0
    start = time.perf_counter()
    while passes < repeat or time.perf_counter() - start < min_seconds:
        for v in values:
            step(model, v)
        passes += 1
        samples += len(values)
    return samples, time.perf_counter() - start, passes


def hst_step(model, v):
    x = {"value": v}
    model.score_one(x)
    model.learn_one(x)


def gaussian_step(model, v):
    model.score_one(None, v)
    model.learn_one(None, v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the stream (at least)")
    parser.add_argument("--min-seconds", type=float, default=5.0, help="time each detector at least this long")
    args = parser.parse_args()

    values = load(args.file)
    print(f"river {river.__version__}, CPython {platform.python_version()}, {len(values)} readings per pass")
    detectors = [
        (
            "river HalfSpaceTrees (MinMaxScaler | HST)",
            lambda: compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=7)),
            hst_step,
        ),
        ("river GaussianScorer", anomaly.GaussianScorer, gaussian_step),
    ]
    for name, make, step in detectors:
        samples, seconds, passes = time_detector(make, step, values, args.repeat, args.min_seconds)
        print(f"{name} x{passes}: {samples} samples in {seconds:.3f} s = {samples / seconds:,.0f} samples/s")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
