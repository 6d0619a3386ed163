"""The training summary and the extrapolation guard (sklearn_aclr._summary)."""

import json
import warnings

import pytest
from _tiny import TINY_ENCODER
from conftest import SMALL_SCORER

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer
from sklearn_aclr.datasets import ADC2021Stream, write_adc2021
from sklearn_aclr.exceptions import ExtrapolationWarning

SMALL = dict(TINY_ENCODER, device="cpu", random_state=0)


def _transformer(**kwargs):
    return AnomalyCLRTransformer(**{**SMALL, "max_epochs": 3, **kwargs})


def _scorer(**kwargs):
    return AutoEncoderScorer(**{**SMALL_SCORER, **kwargs})

@pytest.fixture(scope="module")
def events(small_events):
    return small_events


@pytest.fixture(scope="module")
def features(small_features):
    return small_features


@pytest.fixture(scope="module")
def fitted(small_fitted):
    return small_fitted


def test_transform_warns_once_with_counts_outside_the_training_ranges(fitted, events):
    clr = fitted[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        clr.transform(events)  # the training events themselves: nothing to report
    shifted = events[:10].copy()
    shifted[:3, 9] = [1e5, 0.0, 0.0, 4.0]  # three events with a 100 TeV leading jet
    with pytest.warns(ExtrapolationWarning, match=r"3 of 10 events .*jet_pt: 3") as record:
        clr.transform(shifted)
    assert len(record) == 1


def test_scoring_warns_outside_the_training_feature_ranges(fitted, features):
    scorer = fitted[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        scorer.score_samples(features)
    shifted = features[:20].copy()
    shifted[:5, 0] = features[:, 0].max() + 1
    with pytest.warns(ExtrapolationWarning, match=r"5 of 20 events .*x0: 5") as record:
        scorer.predict(shifted)
    assert len(record) == 1


def test_streamed_and_in_memory_summaries_agree(events, tmp_path):
    path = tmp_path / "events.h5"
    write_adc2021(path, events)
    summary = _transformer(max_epochs=1).fit(events).training_summary_
    streamed = _transformer(max_epochs=1).fit(ADC2021Stream(path)).training_summary_
    assert streamed == summary
    json.dumps(summary)
