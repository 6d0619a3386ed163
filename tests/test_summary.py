"""The training summary and the extrapolation guard (sklearn_aclr._summary)."""

import json
import warnings

import numpy as np
import pytest
from _tiny import tiny_transformer

from sklearn_aclr import ADC2021
from sklearn_aclr._summary import (
    _MARGIN,
    ExtrapolationGuard,
    FeatureColumns,
    event_columns,
    summarize,
)
from sklearn_aclr.datasets import ADC2021Stream, make_adc_events, write_adc2021
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


def _counts_column_by_column(summary, columns, blocks):
    """The guard's counts, checked one column at a time: the reference."""
    n_outside, by_feature = 0, {}
    for block in blocks:
        outside = np.zeros(len(block), dtype=bool)
        for name, values, present in columns(block):
            limits = summary["features"].get(name)
            if limits is None or limits["min"] is None:
                continue
            margin = _MARGIN * (limits["max"] - limits["min"])
            bad = (present & ((values < limits["min"] - margin)
                              | (values > limits["max"] + margin))).any(axis=1)
            if bad.any():
                by_feature[name] = by_feature.get(name, 0) + int(bad.sum())
            outside |= bad
        n_outside += int(outside.sum())
    return n_outside, by_feature


@pytest.mark.parametrize("kind", ["events", "features"])
def test_guard_counts_as_column_by_column(kind):
    rng = np.random.default_rng(0)
    if kind == "events":
        X, _ = make_adc_events(300, random_state=0)
        columns = event_columns(ADC2021)
        new, _ = make_adc_events(150, 150, signal="four_leptons", random_state=1)
        new[:7, 9, 0] *= 50  # far harder leading jets
        new[7:9, 1, 1] = 4.5  # electrons beyond any training eta
    else:
        X = rng.normal(size=(300, 12))
        columns = FeatureColumns([f"x{i}" for i in range(12)])
        new = rng.normal(scale=1.6, size=(300, 12))
    summary = summarize(X, columns)
    summary["features"].pop(next(iter(summary["features"])))  # a column without a range
    guard = ExtrapolationGuard(summary, columns, "test")
    blocks = np.array_split(new, 4)
    for block in blocks:
        guard.update(block)
    n_outside, by_feature = _counts_column_by_column(summary, columns, blocks)
    assert (guard.n_events, guard.n_outside, guard.by_feature) == (len(new), n_outside,
                                                                   by_feature)
    assert 0 < n_outside < len(new)


def test_streamed_and_in_memory_summaries_agree(small_events, tmp_path):
    path = tmp_path / "events.h5"
    write_adc2021(path, small_events)
    summary = tiny_transformer(max_epochs=1).fit(small_events).training_summary_
    streamed = tiny_transformer(max_epochs=1).fit(ADC2021Stream(path)).training_summary_
    assert streamed == summary
    json.dumps(summary)
