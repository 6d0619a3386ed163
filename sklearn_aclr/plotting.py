"""Plots of detection performance, on top of :mod:`sklearn_aclr.metrics`.

The functions draw on a matplotlib ``Axes`` that you give them, or on a new figure made
without pyplot, so they never change the matplotlib backend: they work the same in a
notebook, in a script and on a batch node without a display. Needs the ``[plot]`` extra.
"""

from sklearn_aclr.metrics import hep_roc_curve, sic_curve

__all__ = ["CURVES", "plot_curve", "signal_figure"]

CURVES = ("rejection", "sic")
"""The curves :func:`plot_curve` draws."""


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
        ax.plot(efficiency, rejection, label=label)
        ax.set(yscale="log", ylabel="background rejection 1/eB")
    elif kind == "sic":
        _, efficiency, sic = sic_curve(y_true, score, min_background=min_background)
        ax.plot(efficiency, sic, label=label)
        ax.set(ylabel="SIC = eS / sqrt(eB)")
    else:
        raise ValueError(f"kind must be one of {CURVES}; got {kind!r}.")
    ax.set(xlabel="signal efficiency eS", xlim=(0, 1))
    return ax


def signal_figure(curves, *, kind="rejection", width=4.0, height=3.6):
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
    from matplotlib.figure import Figure

    signals = list(dict.fromkeys(signal for _, signal in curves))
    models = list(dict.fromkeys(model for model, _ in curves))
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
