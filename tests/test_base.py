"""The training loop of the estimators (sklearn_aclr._base): a diverging loss, interrupts,
warm starts that resume bit for bit."""

import pickle

import numpy as np
import pytest
import torch
from _tiny import tiny_scorer, tiny_transformer
from skorch.callbacks import Callback

from sklearn_aclr.exceptions import TrainingInterruptedWarning


class _PoisonWeights(Callback):
    """Sets a weight to NaN at the start of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            with torch.no_grad():
                next(net.module_.parameters()).fill_(float("nan"))


def test_a_nan_loss_stops_training_naming_the_epoch(small_events, small_fitted):
    with pytest.raises(FloatingPointError, match=r"loss became nan in epoch 2.*lower lr"):
        tiny_transformer(callbacks=[_PoisonWeights(2)]).fit(small_events)
    # The scorer trains through the same loop, with the same check.
    assert "finite_loss" in dict(small_fitted[1].net_.callbacks_)


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


def test_keyboard_interrupt_keeps_the_best_weights(small_events):
    with pytest.warns(TrainingInterruptedWarning, match="interrupted during epoch 3"):
        clr = tiny_transformer(max_epochs=6, callbacks=[_Interrupt(3, batch=2)]).fit(small_events)
    assert clr.n_epochs_ == 2 and len(clr.validation_loss_curve_) == 2
    stopper = dict(clr.net_.callbacks_)["early_stopping"]
    best = stopper.best_model_weights_
    assert stopper.best_epoch_ == 1 + int(np.argmin(clr.validation_loss_curve_))
    for name, value in clr.net_.module_.state_dict().items():
        torch.testing.assert_close(value, best[name])
    assert clr.transform(small_events).shape == (len(small_events), 16 + 95)  # pooled beside raw


@pytest.mark.slow
@pytest.mark.parametrize("through_pickle", [False, True])
def test_an_interrupted_fit_resumes_to_the_uninterrupted_result(small_events, through_pickle):
    straight = tiny_transformer(max_epochs=5).fit(small_events)

    first = tiny_transformer(max_epochs=5, callbacks=[_Interrupt(2)]).fit(small_events)
    assert first.n_epochs_ == 2
    if through_pickle:  # a checkpoint on disk, as a cluster job would keep it
        first = pickle.loads(pickle.dumps(first))
    resumed = first.set_params(warm_start=True).fit(small_events)

    assert resumed.n_epochs_ == 5
    np.testing.assert_array_equal(resumed.loss_curve_, straight.loss_curve_)
    np.testing.assert_array_equal(resumed.validation_loss_curve_,
                                  straight.validation_loss_curve_)
    np.testing.assert_array_equal(resumed.transform(small_events), straight.transform(small_events))


def test_warm_start_continues_the_scorer(small_features):
    straight = tiny_scorer(max_epochs=6, early_stopping=False).fit(small_features)
    resumed = tiny_scorer(max_epochs=3, early_stopping=False).fit(small_features)
    resumed.set_params(warm_start=True, max_epochs=6).fit(small_features)
    np.testing.assert_array_equal(resumed.loss_curve_, straight.loss_curve_)
    np.testing.assert_array_equal(resumed.score_samples(small_features),
                                  straight.score_samples(small_features))
    assert resumed.offset_ == straight.offset_
    with pytest.raises(ValueError, match="max_epochs=2 is below the 6 epochs"):
        resumed.set_params(max_epochs=2).fit(small_features)


# compile: skorch's torch.compile hook. The "eager" backend runs the traced graphs as they
# are, so it checks the plumbing in a second; the default (inductor) compiler takes a minute.
@pytest.mark.parametrize("make", [pytest.param(tiny_transformer, marks=pytest.mark.slow),
                                  tiny_scorer])
def test_compile_traces_the_network_and_keeps_the_result(make, small_events, small_features,
                                                         tmp_path):
    from sklearn_aclr.persistence import load_model

    X = small_events if make is tiny_transformer else small_features
    output = "transform" if make is tiny_transformer else "score_samples"
    eager = make().fit(X)
    compiled = make(compile={"backend": "eager"}).fit(X)
    assert type(compiled.net_.module_).__name__ == "OptimizedModule"
    expected = getattr(eager, output)(X)
    np.testing.assert_array_equal(getattr(compiled, output)(X), expected)
    # Saved weights are the module's own (no "_orig_mod." names), and load into either kind.
    compiled.save(tmp_path / "model")
    np.testing.assert_array_equal(getattr(load_model(tmp_path / "model"), output)(X), expected)
    back = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_array_equal(getattr(back, output)(X), expected)


@pytest.mark.slow
def test_inductor_compiled_encoder_computes_what_the_eager_one_does(small_events):
    pytest.importorskip("torch._inductor")
    import shutil

    if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        pytest.skip("torch.compile on CPU needs a C++ compiler")
    # Without dropout the compiled fit follows the eager one step by step, to rounding.
    eager = tiny_transformer(dropout=0.0, max_epochs=2).fit(small_events)
    compiled = tiny_transformer(dropout=0.0, max_epochs=2, compile=True).fit(small_events)
    np.testing.assert_allclose(compiled.transform(small_events), eager.transform(small_events),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("make", [tiny_transformer, tiny_scorer])
def test_training_on_data_resident_on_the_device_gives_the_same_model(
        make, small_events, small_features, monkeypatch):
    # On a GPU the training array moves to the device once and batches are gathered there;
    # the same path, run on the CPU, must train the very model that host batches train.
    import sklearn_aclr._base

    X = small_events if make is tiny_transformer else small_features
    expected = make().fit(X)
    monkeypatch.setattr(sklearn_aclr._base, "on_device", lambda data, device: torch.as_tensor(data))
    resident = make().fit(X)
    np.testing.assert_array_equal(resident.loss_curve_, expected.loss_curve_)
    for a, b in zip(resident.net_.module_.parameters(), expected.net_.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
