"""Plots draw on the axes given, or on figures made without pyplot."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklearn_aclr import EventScaler  # noqa: E402
from sklearn_aclr.datasets import make_adc_events  # noqa: E402
from sklearn_aclr.metrics import get_anomaly_score, hep_roc_curve, max_sic, sic_curve  # noqa: E402
from sklearn_aclr.plotting import (  # noqa: E402
    RejectionCurveDisplay,
    ScoreDistributionDisplay,
    SICCurveDisplay,
    plot_curve,
    plot_style,
    signal_figure,
)


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


def test_a_style_applies_to_the_figure_alone(scores):
    import matplotlib

    before = dict(matplotlib.rcParams)
    figure = signal_figure({("a", "S1"): scores}, style={"axes.facecolor": "#123456"})
    assert matplotlib.colors.to_hex(figure.axes[0].get_facecolor()) == "#123456"
    assert dict(matplotlib.rcParams) == before  # the user's style is left as it was
    with pytest.raises(ValueError, match="neither a matplotlib style"):
        signal_figure({("a", "S1"): scores}, style="no-such-style")


def test_mplhep_styles_by_name(scores):
    mplhep = pytest.importorskip("mplhep")
    assert plot_style("CMS") == mplhep.style.CMS
    figure = signal_figure({("a", "S1"): scores}, style="CMS")
    ax = figure.axes[0]
    assert ax.xaxis.get_major_ticks()[0].tick1line.get_markersize() == 12  # CMS: long ticks
    assert ax.title.get_fontsize() > 20  # and 26 pt text


# --- Display objects ---------------------------------------------------------------------------

def test_the_thresholds_reproduce_each_point(scores):
    y, score = scores
    display = RejectionCurveDisplay.from_predictions(y, score, ax=Figure().subplots())
    for threshold, efficiency, rejection in zip(display.thresholds[::25],
                                                display.signal_efficiency[::25],
                                                display.background_rejection[::25]):
        assert np.mean(score[y == 1] >= threshold) == efficiency
        assert 1 / np.mean(score[y == 0] >= threshold) == pytest.approx(rejection)
    sic = SICCurveDisplay.from_predictions(y, score, ax=Figure().subplots())
    for threshold, eb, es in zip(sic.thresholds, sic.background_efficiency,
                                 sic.signal_efficiency):
        assert np.mean(score[y == 0] >= threshold) == pytest.approx(eb)
        assert np.mean(score[y == 1] >= threshold) == pytest.approx(es)
    assert sic.sic.max() == pytest.approx(max_sic(y, score))
    assert len(sic.thresholds) == len(sic_curve(y, score)[0])


def test_displays_from_an_outlier_pipeline_read_the_score_with_the_right_sign():
    X, y = make_adc_events(600, 200, signal="four_leptons", random_state=0)
    pipeline = make_pipeline(EventScaler(), IsolationForest(random_state=0)).fit(X[y == 0])
    ax = Figure().subplots()
    display = RejectionCurveDisplay.from_estimator(pipeline, X, y, ax=ax)
    assert display.line_.get_label().startswith("IsolationForest (AUC = ")
    assert display.auc > 0.5  # the signal is scored as more anomalous, not less
    SICCurveDisplay.from_estimator(pipeline, X, y, ax=ax, name="forest")
    assert [line.get_label() for line in ax.get_lines()][1].startswith("forest (max ")
    scores = ScoreDistributionDisplay.from_estimator(pipeline, X, y, name="4 leptons",
                                                     ax=Figure().subplots())
    np.testing.assert_array_equal(np.sort(scores.signal),
                                  np.sort(get_anomaly_score(pipeline, X[y == 1])))


def test_displays_use_pyplot_only_without_an_ax_and_never_switch_the_backend(scores):
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    display = RejectionCurveDisplay.from_predictions(*scores)
    assert display.figure_ in map(plt.figure, plt.get_fignums())
    plt.close(display.figure_)
    display = ScoreDistributionDisplay.from_predictions(scores[0], np.exp(scores[1]),
                                                        log_score=True, ax=Figure().subplots())
    assert display.ax_.get_xscale() == "log" and not plt.get_fignums()
    assert matplotlib.get_backend() == backend
    with pytest.raises(ValueError, match="log_score=True needs positive scores"):
        ScoreDistributionDisplay.from_predictions(*scores, log_score=True)
