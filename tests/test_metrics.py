import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AutoEncoderScorer, EventScaler
from sklearn_aclr.metrics import (
    anomaly_auc_scorer,
    anomaly_roc_auc,
    get_anomaly_score,
    hep_roc_curve,
    make_signal_efficiency_scorer,
    max_sic,
    max_sic_scorer,
    sic_curve,
    signal_efficiency_at,
)

# Ten background events scored 0..9, four signal events: a case small enough to work by hand.
Y = np.r_[np.zeros(10), np.ones(4)]
SCORE = np.r_[np.arange(10.0), [9.5, 8.5, 4.5, 0.5]]


def test_auc_by_hand():
    # Signal at 9.5, 8.5, 4.5, 0.5 beats 10, 9, 5, 1 background events: (10+9+5+1)/40.
    assert anomaly_roc_auc(Y, SCORE) == pytest.approx(25 / 40)
    assert anomaly_roc_auc(Y, -SCORE) == pytest.approx(15 / 40)


def test_signal_efficiency_by_hand():
    # eB = 0.1: the cut at 8.5 passes background {9} and signal {9.5, 8.5}.
    assert signal_efficiency_at(Y, SCORE, background_efficiency=0.1) == 0.5
    # eB = 0.15: no cut passes exactly 1.5 background events; the best one with eB <= 0.15
    # is still the cut at 8.5. Nothing is interpolated.
    assert signal_efficiency_at(Y, SCORE, background_efficiency=0.15) == 0.5
    assert signal_efficiency_at(Y, SCORE, background_efficiency=0.5) == 0.75
    assert signal_efficiency_at(Y, SCORE, background_efficiency=0.85) == 0.75
    # eB = 0.9: the cut at 0.5 passes background 1..9 and every signal event.
    assert signal_efficiency_at(Y, SCORE, background_efficiency=0.95) == 1.0


def test_signal_efficiency_needs_enough_background():
    with pytest.raises(ValueError, match="needs at least 100 background events .*; got 10"):
        signal_efficiency_at(Y, SCORE, background_efficiency=1e-2)


def test_sic_by_hand():
    eB, eS, sic = sic_curve(Y, SCORE, min_background=1)
    assert eB[0] == 0.1 and eS[0] == 0.5
    np.testing.assert_allclose(sic, eS / np.sqrt(eB))
    assert max_sic(Y, SCORE, min_background=1) == pytest.approx(0.5 / np.sqrt(0.1))
    # With at least 5 background events required the best point is eB = 0.5, eS = 0.75.
    assert max_sic(Y, SCORE, min_background=5) == pytest.approx(0.75 / np.sqrt(0.5))


def test_sic_guard_stops_tiny_background_counts():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(1000), np.ones(100)]
    score = np.r_[rng.normal(size=1000), rng.normal(size=100)]
    score[1000] = 100.0  # one lucky signal event above all background
    # Without the guard, one background event passing gives a SIC of
    # (eS ~ 0.01..) / sqrt(0.001); with 10 events required it cannot reach that.
    assert max_sic(y, score, min_background=10) < 1.5
    with pytest.raises(ValueError, match="min_background=2000"):
        max_sic(y, score, min_background=2000)


def test_hep_roc():
    eS, rejection = hep_roc_curve(Y, SCORE)
    assert rejection[0] == 10.0 and eS[0] == 0.25  # the corner before the step to 0.5
    assert rejection[1] == 10.0 and eS[1] == 0.5
    assert rejection[-1] == 1.0 and eS[-1] == 1.0
    assert np.all(np.diff(rejection) <= 0)


@pytest.mark.parametrize(
    "y, score, match",
    [
        (np.zeros(4), np.arange(4.0), "both 0 \\(background\\) and 1 \\(signal\\)"),
        ([0, 1, 2], [0.0, 1.0, 2.0], "got labels \\[0, 1, 2\\]"),
        ([0, 1], [0.0], "different lengths"),
        ([0, 1], [0.0, np.nan], "NaN"),
    ],
)
def test_bad_labels_or_scores(y, score, match):
    with pytest.raises(ValueError, match=match):
        anomaly_roc_auc(y, score)


@pytest.fixture(scope="module")
def pipe_and_data(labelled):
    X, y = labelled
    pipe = make_pipeline(
        EventScaler(), AutoEncoderScorer(hidden_layer_sizes=(16,), latent_dim=3, max_epochs=5,
                                         random_state=0)
    )
    return pipe.fit(X[y == 0]), X, y


def test_anomaly_score_signs(pipe_and_data):
    pipe, X, y = pipe_and_data
    expected = pipe[-1].anomaly_score(pipe[0].transform(X))
    np.testing.assert_allclose(get_anomaly_score(pipe, X), expected)
    np.testing.assert_allclose(get_anomaly_score(pipe[-1], pipe[0].transform(X)), expected)
    forest = IsolationForest(random_state=0).fit(X.reshape(len(X), -1))
    np.testing.assert_allclose(get_anomaly_score(forest, X.reshape(len(X), -1)),
                               -forest.score_samples(X.reshape(len(X), -1)))
    clf = LogisticRegression(max_iter=2000).fit(X.reshape(len(X), -1), y)
    np.testing.assert_allclose(get_anomaly_score(clf, X.reshape(len(X), -1)),
                               clf.predict_proba(X.reshape(len(X), -1))[:, 1])
    with pytest.raises(TypeError, match="Cannot read an anomaly score off LinearRegression"):
        get_anomaly_score(LinearRegression().fit(X.reshape(len(X), -1), y),
                          X.reshape(len(X), -1))


@pytest.mark.parametrize(
    "scorer, metric",
    [
        (anomaly_auc_scorer, anomaly_roc_auc),
        (max_sic_scorer, max_sic),
        (make_signal_efficiency_scorer(0.05),
         lambda y, s: signal_efficiency_at(y, s, background_efficiency=0.05)),
    ],
)
def test_scorers_take_the_sign_from_the_estimator(pipe_and_data, scorer, metric):
    pipe, X, y = pipe_and_data
    expected = metric(y, -pipe.score_samples(X))
    assert scorer(pipe, X, y) == pytest.approx(expected)
    Xt = pipe[0].transform(X)
    assert scorer(pipe[-1], Xt, y) == pytest.approx(expected)


def test_scorer_repr_is_the_public_name():
    import sklearn_aclr.metrics as metrics

    assert repr(anomaly_auc_scorer) == "anomaly_auc_scorer"
    assert eval(repr(max_sic_scorer), vars(metrics)) is max_sic_scorer
    scorer = metrics.make_signal_efficiency_scorer(1e-3)
    rebuilt = eval(repr(scorer), vars(metrics))
    assert repr(rebuilt) == repr(scorer) and rebuilt.kwargs == scorer.kwargs


def test_perfect_separation_keeps_every_working_point():
    # Regression: roc_curve's drop_intermediate removed the points on the eS = 1 line, so a
    # perfect detector got max SIC 1 instead of 1 / sqrt(10 / 300).
    from sklearn_aclr.metrics import max_sic, signal_efficiency_at

    y = np.r_[np.zeros(300), np.ones(50)]
    score = np.r_[np.linspace(0, 1, 300), np.linspace(2, 3, 50)]
    assert max_sic(y, score) == pytest.approx(1 / np.sqrt(10 / 300))
    assert signal_efficiency_at(y, score, 0.05) == 1.0
