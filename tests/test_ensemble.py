"""SeedEnsemble: members, seeds, the averaged score and its working point."""

import numpy as np
import pytest
from _tiny import tiny_scorer, tiny_transformer
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline

from sklearn_aclr import EventScaler, SeedEnsemble
from sklearn_aclr.metrics import anomaly_auc_scorer, get_anomaly_score
from sklearn_aclr.model_selection import BackgroundKFold, BackgroundOnly


@pytest.fixture(scope="module")
def fitted(small_features):
    return SeedEnsemble(tiny_scorer(), random_state=0).fit(small_features)


def test_the_score_is_the_mean_of_the_members_standardised_log_errors(fitted, small_features):
    train, test = small_features[:300], small_features[300:]
    ensemble = SeedEnsemble(tiny_scorer(), random_state=0).fit(train)
    by_hand = []
    for member in ensemble.estimators_:
        reference = np.log(member.anomaly_score(train))
        by_hand.append((np.log(member.anomaly_score(test)) - reference.mean())
                       / reference.std())
    np.testing.assert_allclose(ensemble.anomaly_score(test), np.mean(by_hand, axis=0),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ensemble.score_samples(test), -ensemble.anomaly_score(test))
    np.testing.assert_array_equal(get_anomaly_score(ensemble, test),
                                  ensemble.anomaly_score(test))
    assert abs(ensemble.anomaly_score(train).mean()) < 1e-9  # standardised on the training


def test_each_member_has_its_own_seed_and_one_seed_gives_one_ensemble(fitted, small_features):
    seeds = [member.random_state for member in fitted.estimators_]
    assert seeds == fitted.seeds_.tolist() == [0, 1000, 2000]
    # The first member is the single estimator of the ensemble's seed.
    np.testing.assert_array_equal(fitted.estimators_[0].anomaly_score(small_features),
                                  tiny_scorer(random_state=0).fit(small_features)
                                  .anomaly_score(small_features))
    drawn = SeedEnsemble(tiny_scorer(), n_members=2,
                         random_state=np.random.RandomState(0)).fit(small_features)
    assert len(set(drawn.seeds_.tolist())) == 2
    errors = [member.anomaly_score(small_features) for member in fitted.estimators_]
    assert not np.allclose(errors[0], errors[1])  # the members differ
    again = SeedEnsemble(tiny_scorer(), random_state=0).fit(small_features)
    np.testing.assert_array_equal(again.anomaly_score(small_features),
                                  fitted.anomaly_score(small_features))
    other = SeedEnsemble(tiny_scorer(), random_state=1).fit(small_features)
    assert not np.allclose(other.anomaly_score(small_features),
                           fitted.anomaly_score(small_features))


def test_predict_calls_the_contamination_of_the_training_events_outliers(small_features):
    for contamination, expected in ((0.2, 0.2), ("auto", 0.01)):
        ensemble = SeedEnsemble(tiny_scorer(), n_members=2, contamination=contamination,
                                random_state=0).fit(small_features)
        labels = ensemble.predict(small_features)
        assert set(np.unique(labels)) <= {-1, 1}
        assert abs((labels == -1).mean() - expected) <= 1 / len(small_features)
        np.testing.assert_allclose(ensemble.decision_function(small_features),
                                   ensemble.score_samples(small_features) - ensemble.offset_)


def test_an_ensemble_of_pipelines_seeds_every_step(small_events):
    """The encoder and the autoencoder of each member take the member's seed: an ensemble of
    encoders, each with its own autoencoder."""
    pipeline = make_pipeline(tiny_transformer(max_epochs=1), tiny_scorer(max_epochs=1))
    ensemble = SeedEnsemble(pipeline, n_members=2, random_state=0).fit(small_events)
    for member, seed in zip(ensemble.estimators_, ensemble.seeds_):
        assert [step.random_state for _, step in member.steps] == [seed, seed]
    first, second = (member[0].transform(small_events[:50]) for member in ensemble.estimators_)
    assert not np.allclose(first, second)
    assert ensemble.anomaly_score(small_events[:50]).shape == (50,)


def test_it_searches_and_cross_validates_like_any_detector(labelled):
    X, y = labelled
    detector = BackgroundOnly(make_pipeline(
        EventScaler(), SeedEnsemble(tiny_scorer(), n_members=2, random_state=0)))
    search = GridSearchCV(
        detector, {"estimator__seedensemble__estimator__latent_dim": [2, 4]},
        cv=BackgroundKFold(2), scoring=anomaly_auc_scorer).fit(X, y)
    assert search.best_estimator_.n_background_ == (y == 0).sum()
    assert 0.5 < search.best_score_ <= 1.0


def test_a_detector_without_a_seed_is_refused(small_features):
    with pytest.raises(ValueError, match="random_state parameter.*LocalOutlierFactor"):
        SeedEnsemble(LocalOutlierFactor(novelty=True)).fit(small_features)


def test_log_scores_needs_positive_scores_and_says_what_to_do(small_features):
    # A density sharper than 1 per unit volume: log-likelihoods above 0, anomaly scores below.
    narrow = GaussianMixture(2, random_state=0)
    X = 1e-3 * small_features[:, :3].astype(np.float64)
    with pytest.raises(ValueError, match="log_scores=False"):
        SeedEnsemble(narrow, n_members=2, random_state=0).fit(X)
    ensemble = SeedEnsemble(narrow, n_members=2, log_scores=False, random_state=0).fit(X)
    by_hand = []
    for member in ensemble.estimators_:
        score = -member.score_samples(X)
        by_hand.append((score - score.mean()) / score.std())
    np.testing.assert_allclose(ensemble.anomaly_score(X), np.mean(by_hand, axis=0))


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="n_members"):
        SeedEnsemble(tiny_scorer(), n_members=0).fit(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="contamination"):
        SeedEnsemble(tiny_scorer(), contamination=0.7).fit(np.zeros((20, 3)))
