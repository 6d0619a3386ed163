"""Maintainer tool: rebuild the demo dataset shipped in ``sklearn_aclr/datasets/data``.

The recipe is ``sklearn_aclr.datasets.DEMO_RECIPE``; its seed fixes the events, ``--n-jobs``
does not change them. Needs the ``[sim]`` extra; about a quarter of an hour on two cores.

Usage::

    python tools/make_demo.py [--n-jobs 2]
"""

import argparse

from sklearn_aclr.datasets._demo import _demo_file, _make_demo

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(_demo_file()))
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()
    _make_demo(args.output, n_jobs=args.n_jobs, command="python tools/make_demo.py")
