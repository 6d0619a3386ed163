"""Plots of detection performance, on top of :mod:`sklearn_aclr.metrics`.

Display objects in the scikit-learn style (``from_estimator``, ``from_predictions``,
``plot(ax=...)``) draw the curves physicists quote: :class:`RejectionCurveDisplay` (the ROC
curve as the background rejection 1/eB against the signal efficiency eS, on a log axis),
:class:`SICCurveDisplay` (the significance improvement against eS) and
:class:`ScoreDistributionDisplay` (the anomaly scores of background and signal). They keep the
curve's arrays, thresholds included. Given an ``ax``, they draw on it; without one they ask
pyplot for a new figure, as scikit-learn's displays do. :func:`signal_figure` draws on figures
made without pyplot, for batch jobs, in a style of its own if asked (``style="CMS"``: the
experiments' styles of mplhep, the ``[hep]`` extra). Nothing here changes the matplotlib
backend or the user's style. Needs the ``[plot]`` extra.
"""

import os
from contextlib import nullcontext

import numpy as np

from sklearn_aclr._docs import fill_doc
from sklearn_aclr.metrics import (
    anomaly_roc_auc,
    get_anomaly_score,
    hep_roc_curve,
    sic_curve,
)

__all__ = [
    "CURVES",
    "RejectionCurveDisplay",
    "SICCurveDisplay",
    "ScoreDistributionDisplay",
    "plot_curve",
    "plot_style",
    "signal_figure",
]

CURVES = ("rejection", "sic")
"""The curves :func:`plot_curve` draws."""


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


class _CurveDisplay:
    """What the displays share: ``from_estimator`` reads the anomaly score off a fitted
    estimator (with the right sign) and goes through ``from_predictions``; ``plot`` prepares
    the axes, lets the subclass ``_draw`` and keeps what it drew."""

    @classmethod
    @fill_doc
    def from_estimator(cls, estimator, X, y, *, name=None, ax=None, **kwargs):
        """Draw the display of a fitted estimator's anomaly scores of ``X``.

        Parameters
        ----------
        estimator : estimator
            A fitted outlier detector, classifier, or Pipeline ending in one; the score is
            read by :func:`~sklearn_aclr.metrics.get_anomaly_score`.
        X : array-like
            Events, background and signal.
        y : array-like of shape (n_samples,)
            1 for signal, 0 for background.
        name : str, default=None
            Legend entry; None uses the estimator's class name (the last step's for a
            Pipeline).
        ax : matplotlib.axes.Axes, default=None
            Where to draw; None makes a new figure through pyplot.
        **kwargs : dict
            Passed to ``from_predictions``.

        Returns
        -------
        display
            The display, with ``ax_``, ``figure_`` and the arrays it drew.
        """
        if name is None:
            last = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
            name = type(last).__name__
        return cls.from_predictions(y, get_anomaly_score(estimator, X), name=name, ax=ax,
                                    **kwargs)

    @fill_doc
    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Where to draw; None makes a new figure through pyplot.
        name : str, default=None
            Legend entry; None keeps ``self.name``.
        **kwargs : dict
            Passed to the matplotlib call that draws.

        Returns
        -------
        display
            ``self``, with ``ax_``, ``figure_`` and ``line_`` set.
        """
        ax = _axes(ax)
        self.name = self.name if name is None else name
        self.line_ = self._draw(ax, **kwargs)
        self.ax_, self.figure_ = ax, ax.figure
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="best", fontsize="small")
        return self


@fill_doc
class RejectionCurveDisplay(_CurveDisplay):
    """The ROC curve as physicists draw it: background rejection 1/eB (log axis) against the
    signal efficiency eS.

    Parameters
    ----------
    signal_efficiency : ndarray
        eS, increasing.
    background_rejection : ndarray
        1/eB at the same thresholds.
    thresholds : ndarray, default=None
        The cut ``score >= threshold`` of each point.
    auc : float, default=None
        ROC AUC, shown in the legend.
    name : str, default=None
        Legend entry.

    Attributes
    ----------
    %(display_attributes)s

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from sklearn_aclr.plotting import RejectionCurveDisplay
    >>> y = np.r_[np.zeros(500), np.ones(100)]
    >>> score = np.r_[np.random.default_rng(0).normal(size=500), np.full(100, 1.5)]
    >>> display = RejectionCurveDisplay.from_predictions(y, score, name="model",
    ...                                                  ax=Figure().subplots())
    >>> display.ax_.get_yscale(), display.line_.get_label()
    ('log', 'model (AUC = 0.94)')
    >>> len(display.thresholds) == len(display.signal_efficiency)
    True
    """

    def __init__(self, *, signal_efficiency, background_rejection, thresholds=None, auc=None,
                 name=None):
        self.signal_efficiency = signal_efficiency
        self.background_rejection = background_rejection
        self.thresholds = thresholds
        self.auc = auc
        self.name = name

    @classmethod
    @fill_doc
    def from_predictions(cls, y_true, score, *, name=None, ax=None, **kwargs):
        """Draw the curve of anomaly scores.

        Parameters
        ----------
        %(labels_and_score)s
        %(draw)s

        Returns
        -------
        display : RejectionCurveDisplay
        """
        efficiency, rejection, thresholds = hep_roc_curve(y_true, score,
                                                          return_thresholds=True)
        display = cls(signal_efficiency=efficiency, background_rejection=rejection,
                      thresholds=thresholds, auc=anomaly_roc_auc(y_true, score), name=name)
        return display.plot(ax=ax, **kwargs)

    def _draw(self, ax, **kwargs):
        label = self.name
        if label is not None and self.auc is not None:
            label = f"{label} (AUC = {self.auc:.2f})"
        (line,) = ax.plot(self.signal_efficiency, self.background_rejection, label=label,
                          **kwargs)
        ax.set(yscale="log", xlim=(0, 1), xlabel="signal efficiency eS",
               ylabel="background rejection 1/eB")
        return line


@fill_doc
class SICCurveDisplay(_CurveDisplay):
    """The significance improvement SIC = eS / sqrt(eB) against the signal efficiency eS.

    Parameters
    ----------
    signal_efficiency : ndarray
        eS.
    sic : ndarray
        eS / sqrt(eB) at the same thresholds.
    background_efficiency : ndarray, default=None
        eB at the same thresholds.
    thresholds : ndarray, default=None
        The cut ``score >= threshold`` of each point.
    name : str, default=None
        Legend entry.

    Attributes
    ----------
    %(display_attributes)s

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from sklearn_aclr.metrics import sic_curve
    >>> from sklearn_aclr.plotting import SICCurveDisplay
    >>> y, score = [0] * 50 + [1] * 5, list(range(50)) + [45.5] * 5
    >>> eb, es, sic = sic_curve(y, score, min_background=4)
    >>> display = SICCurveDisplay(signal_efficiency=es, sic=sic, background_efficiency=eb,
    ...                           name="model").plot(Figure().subplots())
    >>> round(float(display.sic.max()), 2)  # a cut at 45.5: eS = 1, eB = 4/50
    3.54
    """

    def __init__(self, *, signal_efficiency, sic, background_efficiency=None, thresholds=None,
                 name=None):
        self.signal_efficiency = signal_efficiency
        self.sic = sic
        self.background_efficiency = background_efficiency
        self.thresholds = thresholds
        self.name = name

    @classmethod
    @fill_doc
    def from_predictions(cls, y_true, score, *, min_background=10, name=None, ax=None,
                         **kwargs):
        """Draw the SIC curve of anomaly scores.

        Parameters
        ----------
        %(labels_and_score)s
        min_background : int, default=10
            Leave out working points passed by fewer background events, where eB and the
            SIC are statistical noise.
        %(draw)s

        Returns
        -------
        display : SICCurveDisplay
        """
        eb, es, sic, thresholds = sic_curve(y_true, score, min_background=min_background,
                                            return_thresholds=True)
        display = cls(signal_efficiency=es, sic=sic, background_efficiency=eb,
                      thresholds=thresholds, name=name)
        return display.plot(ax=ax, **kwargs)

    def _draw(self, ax, **kwargs):
        label = self.name
        if label is not None and len(self.sic):
            label = f"{label} (max {np.max(self.sic):.2f})"
        (line,) = ax.plot(self.signal_efficiency, self.sic, label=label, **kwargs)
        ax.set(xlim=(0, 1), xlabel="signal efficiency eS", ylabel="SIC = eS / sqrt(eB)")
        return line


@fill_doc
class ScoreDistributionDisplay(_CurveDisplay):
    """Histograms of the anomaly scores of background and signal, normalised to unit area.

    Parameters
    ----------
    background : ndarray
        Anomaly scores of the background events.
    signal : ndarray
        Anomaly scores of the signal events.
    bins : ndarray
        Bin edges shared by both histograms.
    name : str, default=None
        Name of the signal in the legend (None: "signal").

    Attributes
    ----------
    %(display_attributes)s

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn_aclr.plotting import ScoreDistributionDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(400, 2)), rng.normal(3.0, size=(40, 2))]
    >>> y = np.r_[np.zeros(400), np.ones(40)]
    >>> forest = IsolationForest(random_state=0).fit(X[y == 0])
    >>> display = ScoreDistributionDisplay.from_estimator(forest, X, y, name="shifted",
    ...                                                   ax=Figure().subplots())
    >>> [text.get_text() for text in display.ax_.get_legend().get_texts()]
    ['background', 'shifted']
    >>> bool(display.signal.mean() > display.background.mean())  # higher = more anomalous
    True
    """

    def __init__(self, *, background, signal, bins, name=None):
        self.background = background
        self.signal = signal
        self.bins = bins
        self.name = name

    @classmethod
    @fill_doc
    def from_predictions(cls, y_true, score, *, bins=50, log_score=False, name=None, ax=None,
                         **kwargs):
        """Draw the score distributions of background (``y_true == 0``) and signal.

        Parameters
        ----------
        %(labels_and_score)s
        bins : int or array-like, default=50
            Number of bins between the smallest and largest score, or the bin edges.
        log_score : bool, default=False
            Logarithmic bins and score axis, for positive scores such as reconstruction
            errors, which span decades.
        %(draw)s

        Returns
        -------
        display : ScoreDistributionDisplay
        """
        y_true = np.asarray(y_true)
        score = np.asarray(score, dtype=np.float64)
        if np.ndim(bins) == 0:
            low, high = score.min(), score.max()
            if log_score and low <= 0:
                raise ValueError(f"log_score=True needs positive scores; the smallest is "
                                 f"{low:g}.")
            spacing = np.geomspace if log_score else np.linspace
            bins = spacing(low, high, int(bins) + 1)
        display = cls(background=score[y_true == 0], signal=score[y_true == 1],
                      bins=np.asarray(bins), name=name)
        display.plot(ax=ax, **kwargs)
        if log_score:
            display.ax_.set_xscale("log")
        return display

    def _draw(self, ax, **kwargs):
        style = {"histtype": "step", "density": True, **kwargs}
        patches = [ax.hist(values, bins=self.bins, label=label, **style)[2]
                   for values, label in ((self.background, "background"),
                                         (self.signal, self.name or "signal"))]
        ax.set(xlabel="anomaly score", ylabel="density", yscale="log")
        return patches


def plot_curve(ax, y_true, score, *, kind="rejection", label=None, min_background=10):
    """Draw a detection curve against the signal efficiency eS.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    y_true : array-like of shape (n_samples,)
        1 for signal, 0 for background.
    score : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous.
    kind : {"rejection", "sic"}, default="rejection"
        ``"rejection"``: the background rejection 1/eB on a log axis (the ROC curve as
        physicists draw it); ``"sic"``: the significance improvement eS/sqrt(eB).
    label : str, default=None
        Legend entry.
    min_background : int, default=10
        For ``"sic"``, leave out working points with fewer background events passing.

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from sklearn_aclr.plotting import plot_curve
    >>> y = np.r_[np.zeros(500), np.ones(100)]
    >>> score = np.r_[np.random.default_rng(0).normal(size=500), np.full(100, 1.5)]
    >>> ax = plot_curve(Figure().subplots(), y, score, kind="sic", label="model")
    >>> ax.get_ylabel()
    'SIC = eS / sqrt(eB)'
    """
    if kind == "rejection":
        efficiency, rejection = hep_roc_curve(y_true, score)
        RejectionCurveDisplay(signal_efficiency=efficiency, background_rejection=rejection,
                              name=label).plot(ax)
    elif kind == "sic":
        _, efficiency, sic = sic_curve(y_true, score, min_background=min_background)
        SICCurveDisplay(signal_efficiency=efficiency, sic=sic, name=label).plot(ax)
    else:
        raise ValueError(f"kind must be one of {CURVES}; got {kind!r}.")
    return ax


def plot_style(style):
    """The matplotlib style that ``style`` names, checked before anything is drawn.

    Parameters
    ----------
    style : str, dict or path-like
        A style as ``matplotlib.style.use`` takes it (a name of ``matplotlib.style.available``,
        a file, a dict of rcParams), or the name of a style of mplhep, such as ``"CMS"``,
        ``"ATLAS"``, ``"LHCb2"`` or ``"ALICE"`` (the ``[hep]`` extra).

    Returns
    -------
    style : str, dict, list or path-like
        What ``matplotlib.style.context`` takes.

    Examples
    --------
    >>> from sklearn_aclr.plotting import plot_style
    >>> plot_style("ggplot")
    'ggplot'
    >>> plot_style("no such style")
    Traceback (most recent call last):
    ...
    ValueError: style='no such style' is neither a matplotlib style ...
    """
    import matplotlib.style

    if not isinstance(style, str) or style in matplotlib.style.available \
            or os.path.isfile(style):
        return style
    try:
        import mplhep
    except ImportError:
        mplhep = None
    found = getattr(mplhep.style, style, None) if mplhep is not None else None
    if isinstance(found, (dict, list)):  # the styles, not the module's functions
        return found
    hint = ("the mplhep styles (CMS, ATLAS, LHCb2, ALICE, ...)" if mplhep is not None else
            "an mplhep style such as CMS or ATLAS, once mplhep is installed (pip install "
            "'sklearn-aclr[hep]')")
    raise ValueError(f"style={style!r} is neither a matplotlib style "
                     f"({', '.join(sorted(matplotlib.style.available)[:6])}, ...), nor a file, "
                     f"nor {hint}.")


def signal_figure(curves, *, kind="rejection", width=4.0, height=3.6, style=None):
    """One panel per signal, one line per model, drawn by :func:`plot_curve`.

    Parameters
    ----------
    curves : dict
        ``(model, signal) -> (y_true, score)``, as :class:`~sklearn_aclr.study.StudyResult`
        holds them.
    kind : {"rejection", "sic"}, default="rejection"
        The curve; see :func:`plot_curve`.
    width, height : float
        Size of each panel in inches.
    style : str, dict or path-like, default=None
        Draw in this style (see :func:`plot_style`; ``"CMS"`` for the CMS style of mplhep)
        instead of the current one, which stays as it was.

    Returns
    -------
    figure : matplotlib.figure.Figure
        A figure not registered with pyplot: save it with ``figure.savefig(path)``, or show
        it in a notebook by evaluating it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr.plotting import signal_figure
    >>> y = np.r_[np.zeros(500), np.ones(100)]
    >>> score = np.r_[np.random.default_rng(0).normal(size=500), np.full(100, 1.5)]
    >>> figure = signal_figure({("model", "A"): (y, score), ("model", "B"): (y, -score)})
    >>> [ax.get_title() for ax in figure.axes]
    ['A', 'B']
    """
    import matplotlib.style
    from matplotlib.figure import Figure

    signals = list(dict.fromkeys(signal for _, signal in curves))
    models = list(dict.fromkeys(model for model, _ in curves))
    with nullcontext() if style is None else matplotlib.style.context(plot_style(style)):
        figure = Figure(figsize=(width * max(len(signals), 1), height), layout="constrained")
        axes = figure.subplots(1, max(len(signals), 1), squeeze=False)[0]
        for ax, signal in zip(axes, signals):
            for model in models:
                if (model, signal) in curves:
                    plot_curve(ax, *curves[model, signal], kind=kind, label=model)
            ax.set_title(signal)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize="small")
    return figure
