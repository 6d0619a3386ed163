import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AutoEncoderScorer, EventScaler
from sklearn_aclr.metrics import anomaly_roc_auc

SMALL = dict(hidden_layer_sizes=(32, 16), latent_dim=4, max_epochs=15, batch_size=64)


@pytest.fixture(scope="module")
def features(labelled):
    X, y = labelled
    scaler = EventScaler().fit(X[y == 0])
    return scaler.transform(X[y == 0]), scaler.transform(X), y


@pytest.fixture(scope="module")
def fitted(features):
    return AutoEncoderScorer(**SMALL, random_state=0).fit(features[0])


def test_outlier_contract(fitted, features):
    X_train, X, _ = features
    anomaly = fitted.anomaly_score(X)
    assert anomaly.dtype == np.float64 and anomaly.shape == (len(X),)
    assert (anomaly >= 0).all()
    np.testing.assert_array_equal(fitted.score_samples(X), -anomaly)
    np.testing.assert_array_equal(fitted.decision_function(X), -anomaly - fitted.offset_)
    predicted = fitted.predict(X)
    assert set(np.unique(predicted)) <= {-1, 1}
    np.testing.assert_array_equal(predicted == -1, fitted.decision_function(X) < 0)
    outlier_fraction = np.mean(fitted.predict(X_train) == -1)
    assert outlier_fraction == pytest.approx(fitted.contamination, abs=0.01)


def test_score_is_the_mean_squared_reconstruction_error(fitted, features):
    X = features[1][:20]
    reconstruction = fitted.reconstruct(X)
    assert reconstruction.shape == X.shape and reconstruction.dtype == np.float32
    np.testing.assert_allclose(
        fitted.anomaly_score(X), ((reconstruction - X) ** 2).mean(axis=1), rtol=1e-5
    )


def test_signal_with_extra_leptons_is_found(fitted, features):
    _, X, y = features
    assert anomaly_roc_auc(y, fitted.anomaly_score(X)) > 0.8


def test_fitted_attributes(fitted):
    assert fitted.device_ == "cpu"
    assert fitted.n_features_in_ == 57
    assert fitted.n_epochs_ == len(fitted.loss_curve_) == len(fitted.validation_loss_curve_)
    assert fitted.loss_curve_[-1] < fitted.loss_curve_[0]
    assert isinstance(fitted.net_.module_, torch.nn.Module)


def test_same_random_state_same_scores(features):
    X_train, X, _ = features
    first = AutoEncoderScorer(**{**SMALL, "max_epochs": 3}, random_state=7).fit(X_train)
    second = AutoEncoderScorer(**{**SMALL, "max_epochs": 3}, random_state=7).fit(X_train)
    other = AutoEncoderScorer(**{**SMALL, "max_epochs": 3}, random_state=8).fit(X_train)
    np.testing.assert_array_equal(first.score_samples(X), second.score_samples(X))
    assert not np.allclose(first.score_samples(X), other.score_samples(X))


def test_fit_leaves_the_global_torch_rng_alone(features):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    AutoEncoderScorer(**{**SMALL, "max_epochs": 1}, random_state=0).fit(features[0])
    torch.testing.assert_close(torch.rand(3), expected)


def test_pickle_round_trip(fitted, features):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.score_samples(features[1]),
                                  fitted.score_samples(features[1]))


def test_clone_is_unfitted_with_same_params(fitted):
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "net_")


def test_pipeline_on_raw_events(labelled):
    X, y = labelled
    pipe = make_pipeline(EventScaler(), AutoEncoderScorer(**SMALL, random_state=0))
    pipe.fit(X[y == 0])
    assert anomaly_roc_auc(y, -pipe.score_samples(X)) > 0.8


def test_without_early_stopping(features):
    scorer = AutoEncoderScorer(**{**SMALL, "max_epochs": 2}, early_stopping=False, random_state=0)
    scorer.fit(features[0])
    assert scorer.validation_loss_curve_ is None and scorer.n_epochs_ == 2


def test_verbose_prints_the_epochs(features, capsys):
    AutoEncoderScorer(**{**SMALL, "max_epochs": 2}, verbose=1, random_state=0).fit(features[0])
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out


def test_raw_3d_events_point_to_a_pipeline(background):
    with pytest.raises(ValueError, match="make_pipeline\\(EventScaler\\(\\), AutoEncoderScorer"):
        AutoEncoderScorer().fit(background)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden_layer_sizes=(8, -2)), "positive integers"),
        (dict(hidden_layer_sizes=(8.5,)), "positive integers"),
        (dict(device="gpu0"), "not a torch device"),
        (dict(contamination=0.7), "contamination"),
        (dict(lr=0), "lr"),
    ],
)
def test_bad_parameters(features, params, match):
    with pytest.raises(ValueError, match=match):
        AutoEncoderScorer(**params).fit(features[0][:50])


def test_too_few_events_for_early_stopping():
    with pytest.raises(ValueError, match="n_samples=1 training events.*early_stopping=False"):
        AutoEncoderScorer().fit([[0.0, 1.0]])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error(features):
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        AutoEncoderScorer(device="cuda").fit(features[0][:50])


def test_contamination_is_the_background_efficiency_of_predict(features):
    X_train = features[0]
    for contamination, efficiency in [("auto", 0.01), (0.05, 0.05)]:
        scorer = AutoEncoderScorer(**{**SMALL, "max_epochs": 2}, contamination=contamination,
                                   random_state=0).fit(X_train)
        flagged = float(np.mean(scorer.predict(X_train) == -1))
        assert flagged == pytest.approx(efficiency, abs=1.5 / len(X_train))
