"""The ``sklearn-aclr`` command: ``simulate`` writes events, ``study`` runs the comparison."""

import argparse
import json
import os
import shlex
import sys
import time

__all__ = ["main"]


class UsageError(Exception):
    """A mistake in the command's arguments or files: reported in one line, exit status 2."""


def main(argv=None):
    """Run the ``sklearn-aclr`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success.

    Examples
    --------
    >>> from sklearn_aclr._cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    parser = _make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args, argv if argv is not None else sys.argv[1:])
    except UsageError as exc:
        parser.exit(2, f"sklearn-aclr {args.command}: error: {exc}\n")


def _positive_int(text):
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of events")
    return value


def _non_negative_float(text):
    """argparse type: a number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _existing_file(path, what):
    if not os.path.isfile(path):
        raise UsageError(f"{what} {path!r} does not exist or is not a file.")
    return path


def _check_device(device):
    from sklearn_aclr._torch_utils import resolve_device

    try:
        return resolve_device(device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_style(style):
    """A style the plots cannot use ends the command before the study runs, not after."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return  # the plots are skipped, with a message
    from sklearn_aclr.plotting import plot_style

    try:
        plot_style(style)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _make_parser():
    from sklearn_aclr import __version__

    parser = argparse.ArgumentParser(
        prog="sklearn-aclr",
        description="Self-supervised anomaly detection for collider events (AnomalyCLR).",
    )
    parser.add_argument("--version", action="version", version=f"sklearn-aclr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_study(commands)
    _add_simulate(commands)
    return parser


def _add_study(commands):
    study = commands.add_parser(
        "study",
        help="run the paper's comparison: AnomalyCLR against the baselines, per signal",
        description="Train the raw-data autoencoder, AnomalyCLR + autoencoder and an "
        "IsolationForest on background only, and a supervised classifier per signal as the "
        "upper bound; report ROC AUC, signal efficiency at fixed background efficiency and "
        "max SIC per signal, write results.json, results.csv, roc.png and sic.png.",
    )
    data = study.add_mutually_exclusive_group()
    data.add_argument("--adc2021", action="store_true",
                      help="fetch the CMS ADC2021 samples (background and the four signals)")
    data.add_argument("--background", metavar="PATH",
                      help="an ADC2021-layout HDF5 file of background events")
    study.add_argument("--signal", action="append", default=[], metavar="NAME=PATH",
                       help="a signal HDF5 file, with --background; repeatable")
    study.add_argument("--data-home", help="cache folder of fetched samples (--adc2021)")
    study.add_argument("--n-background", type=_positive_int, default=None, metavar="N",
                       help="use at most N background events (default: all of the demo, "
                       "6000 with --quick, 200000 of a file)")
    study.add_argument("--n-signal", type=_positive_int, default=None, metavar="N",
                       help="use at most N events per signal (default: all of the demo, 600 "
                       "with --quick, 20000 of a file)")
    study.add_argument("--epochs", type=_positive_int, default=None,
                       help="AnomalyCLR training epochs (default: 10, 3 with --quick)")
    study.add_argument("--quick", action="store_true",
                       help="fewer events, a smaller encoder and fewer epochs: about a minute")
    study.add_argument("--device", default="auto",
                       help="torch device: auto (a GPU if torch sees one), cpu, cuda, cuda:N "
                       "(default: auto)")
    study.add_argument("--members", type=_positive_int, default=1, metavar="N",
                       help="autoencoders averaged per detector, on raw features and on "
                       "representations alike (SeedEnsemble; default: 1)")
    study.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    study.add_argument("-o", "--output-dir", default="aclr-study",
                       help="folder for the results (default: aclr-study)")
    study.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    study.add_argument("--style", metavar="NAME",
                       help="style of the plots: a matplotlib style, or an mplhep one such as "
                       "CMS or ATLAS (needs mplhep: pip install 'sklearn-aclr[hep]')")
    study.add_argument("--no-supervised", action="store_true",
                       help="skip the supervised reference classifiers")
    study.add_argument("--no-progress", action="store_true", help="no progress bars")
    # A maintainer's tool that moved out of the user's command (tools/update_readme.py).
    study.add_argument("--update-readme", metavar="PATH", help=argparse.SUPPRESS)
    study.set_defaults(run=_run_study)


def _add_simulate(commands):
    from sklearn_aclr.datasets._processes import PROCESSES

    sim = commands.add_parser(
        "simulate",
        help="generate events with Pythia 8 and write an ADC2021-layout HDF5 file",
        description="Generate events of a process with Pythia 8 + FastJet, reconstruct them "
        "with ADC2021 object definitions and write them to an HDF5 file in the published "
        "ADC2021 layout. Needs the [sim] extra. The file is written atomically and records "
        "this command, the seed and the generation statistics as attributes. Momenta are "
        "in GeV, angles in radians.",
    )
    sim.add_argument("process", choices=sorted(PROCESSES), help="the physics process")
    sim.add_argument("n_events", type=_positive_int,
                     help="number of events passing the lepton filter")
    sim.add_argument("-o", "--output", required=True, help="the HDF5 file to write")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    sim.add_argument("--n-jobs", type=_positive_int, default=1,
                     help="parallel generator processes; the events do not depend on it "
                     "(default: 1)")
    sim.add_argument("--chunk-size", type=_positive_int, default=500,
                     help="events kept per generator task and written at once (default: 500)")
    physics = sim.add_argument_group("detector and selection")
    physics.add_argument("--lepton-filter-pt", type=_non_negative_float, default=23.0,
                         metavar="GEV", help="pT an electron or muon needs for the event to be "
                         "kept, GeV (default: 23)")
    physics.add_argument("--isolation-cone", type=_non_negative_float, default=0.3,
                         metavar="DR", help="cone radius Delta R of the lepton isolation "
                         "(default: 0.3)")
    physics.add_argument("--isolation-max", type=_non_negative_float, default=0.15,
                         metavar="FRACTION", help="largest pT sum in the cone, as a fraction "
                         "of the lepton pT, for an isolated lepton (default: 0.15)")
    physics.add_argument("--jet-radius", type=_non_negative_float, default=0.4, metavar="R",
                         help="anti-kT jet radius (default: 0.4)")
    physics.add_argument("--jet-pt-min", type=_non_negative_float, default=15.0,
                         metavar="GEV", help="smallest jet pT, GeV (default: 15)")
    physics.add_argument("--jet-eta-max", type=_non_negative_float, default=4.0,
                         metavar="ETA", help="jet acceptance |eta| (default: 4)")
    physics.add_argument("--lepton-pt-resolution", type=_non_negative_float, default=0.02,
                         metavar="FRACTION", help="relative lepton pT resolution "
                         "sigma/pT (default: 0.02)")
    physics.add_argument("--jet-energy-resolution", type=_non_negative_float, nargs=2,
                         default=[0.05, 1.5], metavar=("C", "S"),
                         help="jet resolution sigma = sqrt((C pT)^2 + S^2 pT), pT in GeV; the "
                         "Delphes CMS terms are the default (0.05 1.5)")
    physics.add_argument("--angular-resolution", type=_non_negative_float, default=0.01,
                         metavar="RAD", help="eta and phi resolution (default: 0.01)")
    sim.add_argument("--pythia", action="append", default=[], metavar="SETTING",
                     help="extra Pythia setting, for example 'PartonLevel:MPI = off'; "
                     "repeatable")
    sim.add_argument("--compression", choices=["gzip", "lzf"], default=None,
                     help="HDF5 compression of the events (default: none)")
    sim.set_defaults(run=_run_simulate)


def _study_data(args):
    """(background, {signal: events}, description) as the arguments ask."""
    from sklearn_aclr.datasets import fetch_adc2021, load_adc2021, load_demo

    n_bkg = args.n_background or (6000 if args.quick else None)
    n_sig = args.n_signal or (600 if args.quick else None)
    if args.adc2021 or args.background:
        if args.adc2021:
            if args.signal:
                raise UsageError("--signal goes with --background, not with --adc2021.")
            paths = {name: fetch_adc2021(name, data_home=args.data_home)
                     for name in ("background", "Ato4l", "leptoquark", "hToTauTau",
                                  "hChToTauNu")}
            background_path = paths.pop("background")
            signal_paths = paths
        else:
            if not args.signal:
                raise UsageError("--background needs at least one --signal NAME=PATH.")
            background_path, signal_paths = args.background, {}
            for item in args.signal:
                name, sep, path = item.partition("=")
                if not sep or not name or not path:
                    raise UsageError(f"--signal takes NAME=PATH; got {item!r}.")
                signal_paths[name] = _existing_file(path, f"--signal {name}:")
            _existing_file(background_path, "--background")
        background = load_adc2021(background_path, n_events=n_bkg or 200_000)
        signals = {name: load_adc2021(path, n_events=n_sig or 20_000)
                   for name, path in signal_paths.items()}
        return background, signals, f"files: {background_path}, {signal_paths}"
    demo = load_demo()
    background = demo.data[demo.target == 0][:n_bkg]
    signals = {name: demo.data[demo.process == name][:n_sig] for name in demo.signal_names}
    return background, signals, "load_demo() (Pythia 8 + FastJet, ADC2021-like)"


def _run_study(args, argv):
    import importlib.util

    from sklearn_aclr.study import default_models, run_study

    if args.update_readme:
        raise UsageError("--update-readme has moved to the maintainer tool "
                         "tools/update_readme.py in the source tree; run the study without it "
                         "and find the Markdown table in results.md.")
    _check_device(args.device)
    if args.style is not None and not args.no_plots:
        _check_style(args.style)
    background, signals, source = _study_data(args)
    progress = not args.no_progress and importlib.util.find_spec("tqdm") is not None
    models = default_models(quick=args.quick, max_epochs=args.epochs, device=args.device,
                            random_state=args.seed, verbose=2 if progress else 0,
                            n_members=args.members)
    result = run_study(background, signals, models=models, supervised=not args.no_supervised,
                       random_state=args.seed, log=lambda message: print(message, flush=True))
    result.info.update(data=source, command=shlex.join(["sklearn-aclr", *argv]))
    os.makedirs(args.output_dir, exist_ok=True)
    out = {name: os.path.join(args.output_dir, name)
           for name in ("results.json", "results.csv", "roc.png", "sic.png")}
    result.to_json(out["results.json"])
    result.to_csv(out["results.csv"])
    written = [out["results.json"], out["results.csv"]]
    if not args.no_plots:
        if importlib.util.find_spec("matplotlib") is None:
            print("matplotlib is not installed: skipping plots (pip install "
                  "'sklearn-aclr[plot]').", file=sys.stderr)
        else:
            result.plot(out["roc.png"], out["sic.png"], style=args.style)
            written += [out["roc.png"], out["sic.png"]]
    with open(os.path.join(args.output_dir, "results.md"), "w") as f:
        f.write(result.markdown() + "\n")
    written.append(os.path.join(args.output_dir, "results.md"))
    print()
    print(result.table())
    print("\nWrote " + ", ".join(written))
    return 0


def _run_simulate(args, argv):
    from sklearn_aclr import __version__
    from sklearn_aclr.datasets import ADC2021Writer
    from sklearn_aclr.datasets._simulation import PROCESSES, iter_simulated_events

    detector = dict(
        lepton_filter_pt=args.lepton_filter_pt, isolation_cone=args.isolation_cone,
        isolation_max=args.isolation_max, jet_radius=args.jet_radius,
        jet_pt_min=args.jet_pt_min, jet_eta_max=args.jet_eta_max,
        lepton_pt_resolution=args.lepton_pt_resolution,
        jet_energy_resolution=tuple(args.jet_energy_resolution),
        angular_resolution=args.angular_resolution,
    )
    attrs = {
        "generator": f"sklearn-aclr {__version__} simulate_events (Pythia 8 + FastJet)",
        "command": shlex.join(["sklearn-aclr", *argv]),
        "process": args.process,
        "process_description": PROCESSES[args.process].description,
        "seed": args.seed,
        "detector": json.dumps(detector),
        "pythia_settings": json.dumps(args.pythia),
    }
    chunks = iter_simulated_events(
        args.process, args.n_events, random_state=args.seed, n_jobs=args.n_jobs,
        chunk_size=args.chunk_size, pythia_settings=args.pythia, **detector,
    )
    start = time.perf_counter()
    n_written = n_generated = 0
    with ADC2021Writer(args.output, attrs=attrs, compression=args.compression) as writer:
        for events, info in chunks:
            writer.append(events)
            n_written += len(events)
            n_generated += info["n_generated"]
            rate = n_written / (time.perf_counter() - start)
            print(f"{args.process}: {n_written}/{args.n_events} events, filter efficiency "
                  f"{n_written / n_generated:.3f}, {rate:.1f} events/s", file=sys.stderr)
        writer.set_attribute("n_generated", n_generated)
    print(f"Wrote {n_written} {args.process} events to {args.output}")
    return 0
