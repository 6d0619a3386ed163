"""The training summary and the extrapolation guard (sklearn_aclr._summary)."""

import json
import warnings

import pytest
from _tiny import tiny_transformer

from sklearn_aclr.datasets import ADC2021Stream, write_adc2021
from sklearn_aclr.exceptions import ExtrapolationWarning


def test_transform_warns_once_with_counts_outside_the_training_ranges(small_fitted, small_events):
    clr = small_fitted[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        clr.transform(small_events)  # the training events themselves: nothing to report
    shifted = small_events[:10].copy()
    shifted[:3, 9] = [1e5, 0.0, 0.0, 4.0]  # three events with a 100 TeV leading jet
    with pytest.warns(ExtrapolationWarning, match=r"3 of 10 events .*jet_pt: 3") as record:
        clr.transform(shifted)
    assert len(record) == 1


def test_scoring_warns_outside_the_training_feature_ranges(small_fitted, small_features):
    scorer = small_fitted[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        scorer.score_samples(small_features)
    shifted = small_features[:20].copy()
    shifted[:5, 0] = small_features[:, 0].max() + 1
    with pytest.warns(ExtrapolationWarning, match=r"5 of 20 events .*x0: 5") as record:
        scorer.predict(shifted)
    assert len(record) == 1


def test_streamed_and_in_memory_summaries_agree(small_events, tmp_path):
    path = tmp_path / "events.h5"
    write_adc2021(path, small_events)
    summary = tiny_transformer(max_epochs=1).fit(small_events).training_summary_
    streamed = tiny_transformer(max_epochs=1).fit(ADC2021Stream(path)).training_summary_
    assert streamed == summary
    json.dumps(summary)
