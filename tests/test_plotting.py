"""Plots draw on the axes given, or on figures made without pyplot."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from sklearn_aclr.metrics import hep_roc_curve  # noqa: E402
from sklearn_aclr.plotting import plot_curve, signal_figure  # noqa: E402


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(1000), np.ones(200)]
    return y, np.r_[rng.normal(size=1000), rng.normal(1.5, size=200)]


def test_rejection_curve_is_the_hep_roc_curve(scores):
    ax = plot_curve(Figure().subplots(), *scores, label="model")
    efficiency, rejection = hep_roc_curve(*scores)
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), efficiency)
    np.testing.assert_array_equal(line.get_ydata(), rejection)
    assert ax.get_yscale() == "log" and line.get_label() == "model"


def test_sic_curve_leaves_out_thin_background(scores):
    y, score = scores
    ax = plot_curve(Figure().subplots(), y, score, kind="sic", min_background=50)
    efficiency = ax.get_lines()[0].get_xdata()
    passing = [(score[y == 0] >= np.quantile(score[y == 1], 1 - e)).sum() for e in efficiency]
    assert min(passing) >= 49  # no working point with fewer than ~50 background events


def test_unknown_curve_is_a_clear_error(scores):
    with pytest.raises(ValueError, match="kind must be one of"):
        plot_curve(Figure().subplots(), *scores, kind="roc")


def test_signal_figure_has_a_panel_per_signal_and_a_line_per_model(scores):
    curves = {("a", "S1"): scores, ("b", "S1"): scores, ("a", "S2"): scores}
    figure = signal_figure(curves, kind="sic")
    assert [ax.get_title() for ax in figure.axes] == ["S1", "S2"]
    assert [len(ax.get_lines()) for ax in figure.axes] == [2, 1]
