"""Event sources: arrays and streams read through one path."""

import numpy as np
import pytest
from sklearn.base import clone

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


@pytest.mark.parametrize("early_stopping", [False, True])
def test_training_reads_a_large_source_in_whole_blocks(early_stopping, monkeypatch):
    from sklearn_aclr import _nets

    # Blocks of 100 events, shuffled 2 at a time (kept: 4): a "large" source of 1,050 events.
    monkeypatch.setattr(_nets, "BLOCK", 100)
    monkeypatch.setattr(_nets, "BUFFER", 2)
    source = ArraySource(make_adc_events(1050, random_state=0)[0])
    clr = AnomalyCLRTransformer(d_model=8, n_heads=2, n_layers=1, dim_feedforward=16,
                                output_dim=4, batch_size=10, max_epochs=2,
                                early_stopping=early_stopping, patience=2, random_state=0)
    clr.fit(source)
    # One read for the summary and the scaling; then whole blocks, each of the 11 at least
    # once and at most about twice per epoch (groups of training blocks can straddle the
    # blocks of the file where validation took part of one), instead of one read for each of
    # the ~100 batches of an epoch.
    blocks = source.reads - 1
    assert 11 <= blocks <= 2 * 2 * 12, blocks
    assert isinstance(clr.net_.iterator_train__sampler, _nets.BlockShuffleSampler)


def test_a_small_source_trains_to_the_model_of_the_array(events):
    clr = AnomalyCLRTransformer(d_model=8, n_heads=2, n_layers=1, dim_feedforward=16,
                                output_dim=4, max_epochs=2, random_state=0)
    streamed = clone(clr).fit(ArraySource(events))
    np.testing.assert_array_equal(streamed.transform(events),
                                  clone(clr).fit(events).transform(events))


def test_the_block_shuffled_order_reads_a_few_blocks_at_a_time():
    import torch

    from sklearn_aclr._nets import BLOCK, BUFFER, BlockShuffleSampler

    n = BLOCK * (BUFFER + 3)
    sampler = BlockShuffleSampler(n, torch.Generator().manual_seed(0))
    order = np.array(list(sampler))
    assert len(sampler) == n and np.array_equal(np.sort(order), np.arange(n))
    window = BUFFER * BLOCK
    assert len(np.unique(order[:window] // BLOCK)) == BUFFER  # a group: BUFFER blocks
    assert not np.array_equal(order[:window], np.sort(order[:window]))  # shuffled within
    assert len(np.unique(order[window:] // BLOCK)) == 3
    # Another epoch, another order; the same seed, the same orders.
    second = np.array(list(sampler))
    assert not np.array_equal(order, second)
    replay = BlockShuffleSampler(n, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(np.array(list(replay)), order)


def test_the_streamed_validation_split_holds_out_whole_blocks():
    from sklearn_aclr._base import split_sizes
    from sklearn_aclr._nets import BLOCK, BlockValidSplit

    n = 10 * BLOCK + 100
    train, valid = BlockValidSplit(0.25, random_state=0)(np.arange(n))
    assert (len(train), len(valid)) == split_sizes(n, True, 0.25)
    blocks, counts = np.unique(np.asarray(valid.indices) // BLOCK, return_counts=True)
    assert (counts == BLOCK).sum() >= len(blocks) - 2  # whole blocks, but the last cut
    assert not set(train.indices) & set(valid.indices)
