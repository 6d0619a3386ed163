"""Event sources: arrays and streams read through one path."""

import numpy as np
import pytest

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
from sklearn_aclr._sources import EventSource, is_source, iter_blocks
from sklearn_aclr.datasets import make_adc_events


class ArraySource(EventSource):
    """An in-memory source that counts its reads."""

    def __init__(self, events):
        self.events = events
        self.reads = 0

    def __len__(self):
        return len(self.events)

    def __getitem__(self, index):
        self.reads += 1
        return self.events[index]

    def __getitems__(self, indices):
        self.reads += 1
        return list(self.events[np.asarray(indices)])


@pytest.fixture(scope="module")
def events():
    return make_adc_events(500, random_state=0)[0]


def test_blocks_cover_arrays_and_sources_alike(events):
    source = ArraySource(events)
    assert is_source(source) and not is_source(events)
    for data in (events, source):
        blocks = list(iter_blocks(data, block_size=128))
        assert [len(b) for b in blocks] == [128, 128, 128, 116]
        np.testing.assert_array_equal(np.concatenate(blocks), events)


def test_a_user_source_works_with_every_estimator(events):
    source = ArraySource(events)
    clr = AnomalyCLRTransformer(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32,
                                output_dim=8, max_epochs=1, random_state=0).fit(source)
    reference = AnomalyCLRTransformer(**clr.get_params()).fit(events)
    np.testing.assert_array_equal(clr.transform(source), reference.transform(events))
    scaler = EventScaler().fit(source)
    np.testing.assert_array_equal(scaler.transform(source), EventScaler().fit_transform(events))
    features = scaler.transform(events)
    scorer = AutoEncoderScorer(max_epochs=1, random_state=0).fit(features)
    assert np.isfinite(scorer.anomaly_score(features)).all()


def test_training_reads_a_source_one_batch_at_a_time(events):
    source = ArraySource(events)
    AnomalyCLRTransformer(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32, output_dim=8,
                          batch_size=100, max_epochs=1, early_stopping=False,
                          random_state=0).fit(source)
    # One pass of blocks for the summary and the scaling, one read per batch of 100 events.
    assert source.reads == 1 + 5
