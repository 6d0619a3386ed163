"""``python -m sklearn_aclr``: the same as the ``sklearn-aclr`` command."""

from sklearn_aclr._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
