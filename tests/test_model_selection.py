import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AutoEncoderScorer, EventScaler
from sklearn_aclr.metrics import anomaly_auc_scorer, make_signal_efficiency_scorer, max_sic_scorer
from sklearn_aclr.model_selection import BackgroundKFold

Y = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0, 1])


@pytest.mark.parametrize("shuffle, random_state", [(False, None), (True, 0)])
def test_folds_train_on_background_and_test_on_the_rest(shuffle, random_state):
    cv = BackgroundKFold(3, shuffle=shuffle, random_state=random_state)
    splits = list(cv.split(np.zeros((10, 2)), Y))
    assert len(splits) == cv.get_n_splits() == 3
    held_out = []
    for train, test in splits:
        assert (Y[train] == 0).all()
        assert set(np.flatnonzero(Y == 1)) <= set(test)
        assert not set(train) & set(test)
        held_out.extend(test[Y[test] == 0])
    assert sorted(held_out) == np.flatnonzero(Y == 0).tolist()  # background folds partition


def test_shuffle_is_reproducible():
    def tests():
        cv = BackgroundKFold(shuffle=True, random_state=3)
        return [test.tolist() for _, test in cv.split(Y, Y)]

    assert tests() == tests()


@pytest.mark.parametrize(
    "y, match",
    [
        (None, "needs y"),
        (np.zeros(10), "both 0 \\(background\\) and 1 \\(signal\\)"),
        (np.r_[np.ones(8), np.zeros(2)], "at least 3 background events; got 2"),
        (np.r_[np.zeros(8), [1, 2]], "got labels \\[0.0, 1.0, 2.0\\]"),
    ],
)
def test_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        list(BackgroundKFold(3).split(np.zeros((10, 1)), y))


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_splits"):
        BackgroundKFold(1)
    with pytest.raises(ValueError, match="random_state"):
        list(BackgroundKFold(random_state=0).split(np.zeros((10, 1)), Y))


def _pipe():
    return make_pipeline(
        EventScaler(),
        AutoEncoderScorer(hidden_layer_sizes=(16,), latent_dim=3, max_epochs=3, random_state=0),
    )


@pytest.mark.parametrize(
    "scoring",
    [anomaly_auc_scorer, max_sic_scorer, make_signal_efficiency_scorer(0.05)],
    ids=["auc", "max_sic", "eS"],
)
@pytest.mark.slow
def test_grid_search_with_background_folds(labelled, scoring):
    X, y = labelled
    grid = {"autoencoderscorer__latent_dim": [2, 4], "eventscaler__phi_encoding": ["angle"]}
    search = GridSearchCV(_pipe(), grid, scoring=scoring, cv=BackgroundKFold(), n_jobs=2)
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores > 0)
    assert search.best_params_["autoencoderscorer__latent_dim"] in (2, 4)
    # refit trains on everything, signal included (as GridSearchCV always does); scoring works.
    assert np.isfinite(scoring(search.best_estimator_, X, y))


def test_cross_validate_matches_a_manual_loop(labelled):
    X, y = labelled
    cv = BackgroundKFold(3)
    result = cross_validate(_pipe(), X, y, cv=cv, scoring=anomaly_auc_scorer)
    manual = [anomaly_auc_scorer(_pipe().fit(X[train]), X[test], y[test])
              for train, test in cv.split(X, y)]
    np.testing.assert_allclose(result["test_score"], manual)
    assert np.mean(result["test_score"]) > 0.7


def test_grid_search_with_refit_gives_a_detector_trained_on_background_only(labelled,
                                                                           tmp_path):
    from sklearn.base import is_outlier_detector

    from sklearn_aclr.metrics import get_anomaly_score
    from sklearn_aclr.model_selection import BackgroundOnly

    X, y = labelled
    pipe = make_pipeline(EventScaler(), AutoEncoderScorer(hidden_layer_sizes=(16,),
                                                          max_epochs=3, random_state=0))
    search = GridSearchCV(BackgroundOnly(pipe), {"estimator__autoencoderscorer__latent_dim":
                                                 [2, 4]},
                          cv=BackgroundKFold(2), scoring=anomaly_auc_scorer).fit(X, y)
    best = search.best_estimator_
    assert is_outlier_detector(best) and best.n_background_ == np.sum(y == 0)
    # The refit is the pipeline with the best parameters fitted on the background alone.
    direct = pipe.set_params(**{"autoencoderscorer__latent_dim": search.best_params_[
        "estimator__autoencoderscorer__latent_dim"]}).fit(X[y == 0])
    np.testing.assert_array_equal(get_anomaly_score(best, X), get_anomaly_score(direct, X))
    np.testing.assert_array_equal(best.predict(X), direct.predict(X))
    np.testing.assert_array_equal(best.anomaly_score(X), -direct.score_samples(X))
    # The winner saves as the pipeline it fitted.
    from sklearn_aclr.persistence import load_pipeline, save_pipeline

    loaded = load_pipeline(save_pipeline(best, tmp_path / "best"))
    np.testing.assert_array_equal(loaded.score_samples(X), direct.score_samples(X))
    with pytest.raises(ValueError, match=r"y must hold 0 \(background\) and 1"):
        BackgroundOnly(pipe).fit(X, np.full(len(X), 2))
    with pytest.raises(ValueError, match="no background events"):
        BackgroundOnly(pipe).fit(X, np.ones(len(X)))
