"""The ``sklearn-aclr`` command: ``simulate`` writes events, ``study`` runs the comparison."""

import argparse
import json
import shlex
import sys
import time

__all__ = ["main"]


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
    return args.run(args, argv if argv is not None else sys.argv[1:])


def _make_parser():
    from sklearn_aclr import __version__

    parser = argparse.ArgumentParser(
        prog="sklearn-aclr",
        description="Self-supervised anomaly detection for collider events (AnomalyCLR).",
    )
    parser.add_argument("--version", action="version", version=f"sklearn-aclr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_simulate(commands)
    return parser


def _add_simulate(commands):
    from sklearn_aclr.datasets._simulation import PROCESSES

    sim = commands.add_parser(
        "simulate",
        help="generate events with Pythia 8 and write an ADC2021-layout HDF5 file",
        description="Generate events of a process with Pythia 8 + FastJet, reconstruct them "
        "with ADC2021 object definitions and write them to an HDF5 file in the published "
        "ADC2021 layout. Needs the [sim] extra. The file is written atomically and records "
        "this command, the seed and the generation statistics as attributes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sim.add_argument("process", choices=sorted(PROCESSES), help="the physics process")
    sim.add_argument("n_events", type=int, help="number of events passing the lepton filter")
    sim.add_argument("-o", "--output", required=True, help="the HDF5 file to write")
    sim.add_argument("--seed", type=int, default=0, help="random seed")
    sim.add_argument("--n-jobs", type=int, default=1, help="parallel generator processes")
    sim.add_argument("--chunk-size", type=int, default=500, help="kept events per chunk")
    sim.add_argument("--lepton-filter-pt", type=float, default=23.0)
    sim.add_argument("--isolation-cone", type=float, default=0.3)
    sim.add_argument("--isolation-max", type=float, default=0.15)
    sim.add_argument("--jet-radius", type=float, default=0.4)
    sim.add_argument("--jet-pt-min", type=float, default=15.0)
    sim.add_argument("--jet-eta-max", type=float, default=4.0)
    sim.add_argument("--lepton-pt-resolution", type=float, default=0.02)
    sim.add_argument("--angular-resolution", type=float, default=0.01)
    sim.add_argument("--pythia", action="append", default=[], metavar="SETTING",
                     help="extra Pythia setting, for example 'PartonLevel:MPI = off'; repeatable")
    sim.add_argument("--compression", choices=["gzip", "lzf"], default=None)
    sim.set_defaults(run=_run_simulate)


def _run_simulate(args, argv):
    from sklearn_aclr import __version__
    from sklearn_aclr.datasets import ADC2021Writer
    from sklearn_aclr.datasets._simulation import PROCESSES, iter_simulated_events

    detector = dict(
        lepton_filter_pt=args.lepton_filter_pt, isolation_cone=args.isolation_cone,
        isolation_max=args.isolation_max, jet_radius=args.jet_radius,
        jet_pt_min=args.jet_pt_min, jet_eta_max=args.jet_eta_max,
        lepton_pt_resolution=args.lepton_pt_resolution,
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
