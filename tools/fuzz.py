"""Maintainer tool: the thorough fuzzing profile, 10,000 hypothesis examples per test.

Runs ``tests/test_fuzz.py`` (each augmentation on arbitrary valid events, the default views,
and the validation path on arbitrary arrays) with the ``thorough`` profile of
``tests/conftest.py`` and prints hypothesis's statistics: examples run per test, and how many
were valid or invalid. CI runs the same tests with 40 examples each. Takes about ten minutes
on two cores.

Usage::

    python tools/fuzz.py [extra pytest arguments]
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.exit(pytest.main([str(ROOT / "tests" / "test_fuzz.py"), "-p", "no:cacheprovider",
                          "--hypothesis-profile=thorough", "--hypothesis-show-statistics",
                          "-q", *sys.argv[1:]]))
