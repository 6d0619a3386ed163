"""The outlier-detector contract of the package's scorers, from one anomaly score."""

import numpy as np
from sklearn.base import OutlierMixin

__all__ = ["AnomalyScoreMixin"]

AUTO_BACKGROUND_EFFICIENCY = 1e-2  # what contamination="auto" means


class AnomalyScoreMixin(OutlierMixin):
    """scikit-learn's outlier-detector methods of an estimator that gives an anomaly score.

    A subclass implements ``anomaly_score(X)`` (higher = more anomalous) and has a
    ``contamination`` parameter; ``fit`` sets ``offset_`` with :meth:`_set_offset` from the
    training events' anomaly scores. The mixin derives the rest as scikit-learn defines it:
    :meth:`score_samples` is higher for more normal events, :meth:`decision_function` is
    ``score_samples - offset_`` and :meth:`predict` returns +1 for inliers and -1 for
    outliers.
    """

    def _set_offset(self, training_scores):
        """``offset_`` from the anomaly scores of the training events: the working point of
        ``contamination`` ("auto": eB = 1e-2) on ``score_samples``."""
        efficiency = (AUTO_BACKGROUND_EFFICIENCY if self.contamination == "auto"
                      else self.contamination)
        self.offset_ = float(np.percentile(-np.asarray(training_scores), 100.0 * efficiency))

    def score_samples(self, X):
        """Normality score, ``-anomaly_score(X)``: higher = more normal.

        Parameters
        ----------
        X : array-like or ADC2021Stream
            Events to score, as ``anomaly_score`` takes them.

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64
        """
        return -self.anomaly_score(X)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : array-like or ADC2021Stream
            Events to score, as ``anomaly_score`` takes them.

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label events as inliers (+1) or outliers (-1) with the ``offset_`` threshold.

        Parameters
        ----------
        X : array-like or ADC2021Stream
            Events to label, as ``anomaly_score`` takes them.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
        """
        return np.where(self.decision_function(X) < 0, -1, 1)
