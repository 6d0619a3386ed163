"""Simulate the validation sample on which detection-quality defaults are chosen.

The package's defaults must not be tuned on the demo data (``load_demo``) or on the test
fixtures, so the ablations in ``ablation.py`` run on a sample of their own: Pythia 8 + FastJet
events from ``sklearn-aclr simulate`` (the ``[sim]`` extra) with seeds that nothing else uses.
Background is W, Z and ttbar in the ADC2021 proportions without QCD, as in the demo, but over
three times larger; each of the four signals has 1,500 events. One HDF5 file per process goes
to ``benchmarks/data/validation/`` (ignored by git); files already there are kept, so an
interrupted run resumes where it stopped.

Training sets larger than the validation background allows (ablation.py ``--n-train`` above
32,120) continue into a second background sample (``--extra-background``, 100,210 events with
seeds of their own, in ``benchmarks/data/extra_background/``); the test events stay those of
the validation sample.

A second set of signal files, the confirmation sample (``--confirmation``, seeds of their own,
in ``benchmarks/data/confirmation/``), is kept out of every choice: with the validation
background that neither trains nor tests in the ablation, it checks a configuration chosen on
the validation sample on events that played no part in choosing it.

Usage::

    python benchmarks/validation_data.py --n-jobs 2     # about an hour on two cores
    python benchmarks/validation_data.py --confirmation --n-jobs 2   # about 40 minutes
    python benchmarks/validation_data.py --extra-background --n-jobs 2   # about 20 minutes
"""

import argparse
from pathlib import Path

from sklearn_aclr._cli import main as sklearn_aclr_main

FOLDER = Path(__file__).parent / "data" / "validation"
CONFIRMATION_FOLDER = Path(__file__).parent / "data" / "confirmation"

# name: (events, seed). The seeds differ from the demo's (drawn from seed 0) and the tests'.
SAMPLE = {
    "W_lnu": (46_600, 2026_01),
    "Z_ll": (5_280, 2026_02),
    "ttbar": (240, 2026_03),
    "Ato4l": (1_500, 2026_11),
    "leptoquark": (1_500, 2026_12),
    "hToTauTau": (1_500, 2026_13),
    "hChToTauNu": (1_500, 2026_14),
}
CONFIRMATION = {
    "Ato4l": (1_500, 2026_21),
    "leptoquark": (1_500, 2026_22),
    "hToTauTau": (1_500, 2026_23),
    "hChToTauNu": (1_500, 2026_24),
}
# More background, the same processes in the same proportions with seeds of their own: it only
# lengthens the training set of ablation.py beyond the 32,120 events that the validation
# background holds besides its test events (the training-size axis, --n-train).
EXTRA_BACKGROUND_FOLDER = Path(__file__).parent / "data" / "extra_background"
EXTRA_BACKGROUND = {
    "W_lnu": (89_600, 2026_31),
    "Z_ll": (10_150, 2026_32),
    "ttbar": (460, 2026_33),
}
BACKGROUND = ("W_lnu", "Z_ll", "ttbar")
SIGNALS = ("Ato4l", "leptoquark", "hToTauTau", "hChToTauNu")


def path_of(process, folder=FOLDER):
    return Path(folder) / f"{process}.h5"


def make(folder=FOLDER, n_jobs=1, sample=SAMPLE):
    Path(folder).mkdir(parents=True, exist_ok=True)
    for process, (n_events, seed) in sample.items():
        path = path_of(process, folder)
        if path.exists():
            print(f"{process}: {path} exists, kept")
            continue
        sklearn_aclr_main(["simulate", process, str(n_events), "-o", str(path), "--seed",
                           str(seed), "--n-jobs", str(n_jobs), "--chunk-size", "250"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=1, help="generator processes")
    parser.add_argument("--folder", default=None, help="where the files go")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--confirmation", action="store_true",
                       help="the confirmation signals instead of the validation sample")
    which.add_argument("--extra-background", action="store_true",
                       help="100,210 more background events instead, for training sets beyond "
                            "32,120 events")
    args = parser.parse_args()
    if args.confirmation:
        make(args.folder or CONFIRMATION_FOLDER, args.n_jobs, CONFIRMATION)
    elif args.extra_background:
        make(args.folder or EXTRA_BACKGROUND_FOLDER, args.n_jobs, EXTRA_BACKGROUND)
    else:
        make(args.folder or FOLDER, args.n_jobs)
