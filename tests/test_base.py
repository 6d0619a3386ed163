"""The training loop of the estimators (sklearn_aclr._base): a diverging loss, interrupts,
warm starts that resume bit for bit."""

import pickle

import numpy as np
import pytest
import torch
from _tiny import TINY_ENCODER
from conftest import SMALL_SCORER
from skorch.callbacks import Callback

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer
from sklearn_aclr.exceptions import TrainingInterruptedWarning

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


class _PoisonWeights(Callback):
    """Sets a weight to NaN at the start of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            with torch.no_grad():
                next(net.module_.parameters()).fill_(float("nan"))


def test_a_nan_loss_stops_training_naming_the_epoch(events, fitted):
    with pytest.raises(FloatingPointError, match=r"loss became nan in epoch 2.*lower lr"):
        _transformer(callbacks=[_PoisonWeights(2)]).fit(events)
    # The scorer trains through the same loop, with the same check.
    assert "finite_loss" in dict(fitted[1].net_.callbacks_)


class _Interrupt(Callback):
    """Raises KeyboardInterrupt once: after batch ``batch`` of epoch ``epoch``, or at the
    end of the epoch with ``batch=None``."""

    def __init__(self, epoch, batch=None):
        self.epoch, self.batch, self.fired = epoch, batch, False

    def on_batch_end(self, net, training=None, **kwargs):
        if (training and self.batch is not None and len(net.history) == self.epoch
                and len(net.history[-1]["batches"]) == self.batch and not self.fired):
            self.fired = True
            raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) == self.epoch and not self.fired:
            self.fired = True
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_the_best_weights(events):
    with pytest.warns(TrainingInterruptedWarning, match="interrupted during epoch 3"):
        clr = _transformer(max_epochs=6, callbacks=[_Interrupt(3, batch=2)]).fit(events)
    assert clr.n_epochs_ == 2 and len(clr.validation_loss_curve_) == 2
    stopper = dict(clr.net_.callbacks_)["early_stopping"]
    best = stopper.best_model_weights_
    assert stopper.best_epoch_ == 1 + int(np.argmin(clr.validation_loss_curve_))
    for name, value in clr.net_.module_.state_dict().items():
        torch.testing.assert_close(value, best[name])
    assert clr.transform(events).shape == (len(events), 16 + 95)  # pooled beside raw


@pytest.mark.slow
@pytest.mark.parametrize("through_pickle", [False, True])
def test_an_interrupted_fit_resumes_to_the_uninterrupted_result(events, through_pickle):
    straight = _transformer(max_epochs=5).fit(events)

    first = _transformer(max_epochs=5, callbacks=[_Interrupt(2)]).fit(events)
    assert first.n_epochs_ == 2
    if through_pickle:  # a checkpoint on disk, as a cluster job would keep it
        first = pickle.loads(pickle.dumps(first))
    resumed = first.set_params(warm_start=True).fit(events)

    assert resumed.n_epochs_ == 5
    np.testing.assert_array_equal(resumed.loss_curve_, straight.loss_curve_)
    np.testing.assert_array_equal(resumed.validation_loss_curve_,
                                  straight.validation_loss_curve_)
    np.testing.assert_array_equal(resumed.transform(events), straight.transform(events))


def test_warm_start_continues_the_scorer(features):
    straight = _scorer(max_epochs=6, early_stopping=False).fit(features)
    resumed = _scorer(max_epochs=3, early_stopping=False).fit(features)
    resumed.set_params(warm_start=True, max_epochs=6).fit(features)
    np.testing.assert_array_equal(resumed.loss_curve_, straight.loss_curve_)
    np.testing.assert_array_equal(resumed.score_samples(features),
                                  straight.score_samples(features))
    assert resumed.offset_ == straight.offset_
    with pytest.raises(ValueError, match="max_epochs=2 is below the 6 epochs"):
        resumed.set_params(max_epochs=2).fit(features)
