"""Maintainer tool: rerun the study on the demo data and put its table into README.md.

The table goes between the ``<!-- study-results:start -->`` and ``<!-- study-results:end -->``
markers; the study's own files go to ``aclr-study/``. It takes about ten minutes on two cores.

Usage::

    python tools/update_readme.py [README.md]
"""

import argparse
from pathlib import Path

from sklearn_aclr._cli import main as sklearn_aclr_main

ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("<!-- study-results:start -->", "<!-- study-results:end -->")
COMMAND = ["study", "--no-progress", "-o", "aclr-study"]


def replace_block(text, block, markers=MARKERS):
    """``text`` with the lines between the two markers replaced by ``block``."""
    start, end = markers
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise SystemExit(f"The README needs exactly one {start} ... {end} block to update.")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{block}\n{end}{tail}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", nargs="?", default=str(ROOT / "README.md"))
    args = parser.parse_args(argv)
    sklearn_aclr_main(COMMAND)
    table = (Path("aclr-study") / "results.md").read_text().rstrip("\n")
    readme = Path(args.readme)
    readme.write_text(replace_block(readme.read_text(), table))
    print(f"Updated {readme}")


if __name__ == "__main__":
    main()
