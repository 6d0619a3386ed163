"""Warnings point at the user's line, through Pipeline, set_output and GridSearchCV."""

import warnings

import numpy as np
import pytest
from _tiny import TINY_ENCODER
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
from sklearn_aclr.datasets import make_adc_events
from sklearn_aclr.exceptions import ExtrapolationWarning
from sklearn_aclr.metrics import anomaly_auc_scorer
from sklearn_aclr.model_selection import BackgroundKFold

SMALL_CLR = dict(TINY_ENCODER, max_epochs=1, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = make_adc_events(300, 60, signal="four_leptons", random_state=0)
    return X, y


def _boosted(events):
    """Events with 50 times the pT: far outside any training range."""
    events = events.copy()
    events[..., 0] *= 50
    return events


def _where(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtrapolationWarning)
        call()
    found = [w for w in caught if issubclass(w.category, ExtrapolationWarning)]
    assert found, "expected an ExtrapolationWarning"
    return {w.filename for w in found}


def test_scorer_warns_at_the_users_line_through_a_pipeline(data):
    X, y = data
    pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=2, random_state=0))
    pipe.fit(X[y == 0])
    assert _where(lambda: pipe.decision_function(_boosted(X[y == 1]))) == {__file__}
    assert _where(lambda: pipe[-1].anomaly_score(pipe[0].transform(_boosted(X[y == 1])))) == {
        __file__}


def test_transformer_warns_at_the_users_line_with_set_output(data):
    X, y = data
    clr = AnomalyCLRTransformer(**SMALL_CLR).fit(X[y == 0])
    clr.set_output(transform="default")
    assert _where(lambda: clr.transform(_boosted(X[y == 1]))) == {__file__}
    pipe = make_pipeline(AnomalyCLRTransformer(**SMALL_CLR),
                         AutoEncoderScorer(max_epochs=1, random_state=0)).fit(X[y == 0])
    assert _where(lambda: pipe.score_samples(_boosted(X[y == 1]))) == {__file__}


def test_warnings_inside_a_grid_search_point_at_its_fit(data):
    X, y = data
    X = np.r_[X[y == 0], _boosted(X[y == 1])]
    pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=1, random_state=0))
    search = GridSearchCV(pipe, {"autoencoderscorer__latent_dim": [2]}, cv=BackgroundKFold(2),
                          scoring=anomaly_auc_scorer, refit=False)
    assert _where(lambda: search.fit(X, np.r_[np.zeros(300), np.ones(60)])) == {__file__}
