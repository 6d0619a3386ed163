"""Cross-validation for anomaly detection: train on background, test on background and signal."""

from numbers import Integral

import numpy as np
from sklearn.model_selection import BaseCrossValidator, KFold
from sklearn.utils._param_validation import Interval, validate_params

from sklearn_aclr._validation import check_signal_labels

__all__ = ["BackgroundKFold"]


class BackgroundKFold(BaseCrossValidator):
    """K-fold splits whose training folds hold background only.

    The background events (y == 0) are split into ``n_splits`` folds as by
    :class:`~sklearn.model_selection.KFold`. Each split trains on the other background folds and
    tests on the held-out background fold together with all signal events (y == 1), which are
    never trained on. With the anomaly scorers this makes model selection of an unsupervised
    detector right out of the box.

    Parameters
    ----------
    n_splits : int, default=3
        Number of folds of the background, at least 2.
    shuffle : bool, default=False
        Whether to shuffle the background before splitting it.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling; only allowed with ``shuffle=True``, as in KFold.

    See Also
    --------
    sklearn.model_selection.KFold : The background folds are KFold folds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr.model_selection import BackgroundKFold
    >>> y = np.array([0, 0, 0, 1, 0, 0, 0, 1])
    >>> for train, test in BackgroundKFold(n_splits=3).split(np.zeros((8, 1)), y):
    ...     print(train, test)
    [2 4 5 6] [0 1 3 7]
    [0 1 5 6] [2 3 4 7]
    [0 1 2 4] [3 5 6 7]
    """

    @validate_params(
        {
            "n_splits": [Interval(Integral, 2, None, closed="left")],
            "shuffle": ["boolean"],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def __init__(self, n_splits=3, *, shuffle=False, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def split(self, X, y, groups=None):
        """Generate (train, test) indices.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Events; only their number is used.
        y : array-like of shape (n_samples,)
            1 for signal, 0 for background.
        groups : None
            Ignored.

        Yields
        ------
        train : ndarray
            Indices of background events to train on.
        test : ndarray
            Indices of the held-out background fold and of all signal events, sorted.
        """
        if y is None:
            raise ValueError(
                "BackgroundKFold needs y (0 for background, 1 for signal) to keep signal out of "
                "training; pass y to fit, cross_validate or GridSearchCV.fit."
            )
        y = check_signal_labels(
            y, len(X), why="BackgroundKFold puts signal in the test folds only, for the "
            "anomaly scorers to measure anything.",
        )
        background = np.flatnonzero(y == 0)
        signal = np.flatnonzero(y == 1)
        if len(background) < self.n_splits:
            raise ValueError(
                f"n_splits={self.n_splits} background folds need at least {self.n_splits} "
                f"background events; got {len(background)}."
            )
        kfold = KFold(self.n_splits, shuffle=self.shuffle, random_state=self.random_state)
        for train, test in kfold.split(background):
            yield background[train], np.sort(np.concatenate([background[test], signal]))

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits
