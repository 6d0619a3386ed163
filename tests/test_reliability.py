"""Persistence, the extrapolation guard and training faults: interrupted, diverging, resumed."""

import json
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from _tiny import TINY_ENCODER
from skorch.callbacks import Callback

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
from sklearn_aclr.datasets import ADC2021Stream, make_adc_events, write_adc2021
from sklearn_aclr.exceptions import (
    ExtrapolationWarning,
    ModelVersionWarning,
    TrainingInterruptedWarning,
)
from sklearn_aclr.persistence import load_model, read_card

SMALL = dict(TINY_ENCODER, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def events():
    return make_adc_events(400, random_state=0)[0]


@pytest.fixture(scope="module")
def features(events):
    return EventScaler().fit_transform(events)


def _transformer(**kwargs):
    return AnomalyCLRTransformer(**{**SMALL, "max_epochs": 3, **kwargs})


def _scorer(**kwargs):
    params = dict(hidden_layer_sizes=(16, 8), latent_dim=3, max_epochs=3, batch_size=64,
                  device="cpu", random_state=0)
    return AutoEncoderScorer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def fitted(events, features):
    return _transformer().fit(events), _scorer().fit(features)


# --- persistence ------------------------------------------------------------------------------

@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip_gives_identical_outputs(fitted, events, features, tmp_path, dump):
    clr, scorer = fitted
    path = tmp_path / "model"
    if dump == "pickle":
        path.write_bytes(pickle.dumps((clr, scorer)))
        clr2, scorer2 = pickle.loads(path.read_bytes())
    else:
        joblib.dump((clr, scorer), path)
        clr2, scorer2 = joblib.load(path)
    np.testing.assert_array_equal(clr2.transform(events), clr.transform(events))
    np.testing.assert_array_equal(scorer2.score_samples(features), scorer.score_samples(features))


def test_save_load_gives_identical_outputs_and_a_full_card(fitted, events, features, tmp_path):
    clr, scorer = fitted
    clr_path, scorer_path = clr.save(tmp_path / "clr"), scorer.save(tmp_path / "ae")
    assert sorted(p.name for p in clr_path.iterdir()) == ["card.json", "weights.pt"]

    loaded = AnomalyCLRTransformer.load(clr_path)
    np.testing.assert_array_equal(loaded.transform(events), clr.transform(events))
    assert loaded.get_params() == clr.get_params()
    np.testing.assert_array_equal(loaded.loss_curve_, clr.loss_curve_)
    loaded_scorer = AutoEncoderScorer.load(scorer_path)
    np.testing.assert_array_equal(loaded_scorer.score_samples(features),
                                  scorer.score_samples(features))
    np.testing.assert_array_equal(loaded_scorer.predict(features), scorer.predict(features))
    assert loaded_scorer.offset_ == scorer.offset_

    # The weights are plain tensors: torch's safe loader reads them.
    weights = torch.load(clr_path / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    card = read_card(clr_path)
    assert set(card["versions"]) >= {"sklearn_aclr", "torch", "skorch", "sklearn", "numpy"}
    assert card["layout"] == "adc2021" and card["params"]["d_model"] == 16
    jet_pt = card["training_summary"]["features"]["jet_pt"]
    present = events[:, 9:, 3] != 0
    assert jet_pt["min"] == pytest.approx(events[:, 9:, 0][present].min())
    assert jet_pt["max"] == pytest.approx(events[:, 9:, 0][present].max())
    assert len(jet_pt["quantiles"]) == len(card["training_summary"]["quantile_levels"])
    assert card["training_summary"]["features"]["n_jet"]["max"] == present.sum(1).max()


def test_save_keeps_what_json_cannot_hold_out_of_the_card(events, tmp_path):
    clr = _transformer(max_epochs=1, random_state=np.random.RandomState(0)).fit(events)
    card = read_card(clr.save(tmp_path / "clr"))
    assert card["params"]["random_state"] is None
    assert "RandomState" in card["unsaved_params"]["random_state"]


def test_load_warns_when_the_versions_differ(fitted, tmp_path):
    path = fitted[1].save(tmp_path / "ae")
    card = json.loads((path / "card.json").read_text())
    card["versions"]["sklearn_aclr"] = "0.0.1"
    (path / "card.json").write_text(json.dumps(card))
    with pytest.warns(ModelVersionWarning, match="saved by sklearn-aclr 0.0.1"):
        AutoEncoderScorer.load(path)


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(_Payload.target),))


def test_loading_never_runs_code_from_the_files(fitted, tmp_path):
    path = fitted[1].save(tmp_path / "ae")
    _Payload.target = str(tmp_path / "pwned")
    torch.save({"weights": _Payload()}, path / "weights.pt")
    with pytest.raises(ValueError, match="could not be read as plain tensors"):
        load_model(path)
    assert not (tmp_path / "pwned").exists()


def test_save_is_atomic(fitted, tmp_path, monkeypatch):
    scorer = fitted[1]
    path = scorer.save(tmp_path / "ae")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        scorer.save(path)
    scorer.save(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae"]

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        scorer.save(tmp_path / "other")
    with pytest.raises(OSError, match="disk full"):
        scorer.save(path, overwrite=True)
    # Nothing half-written: no new model, no staging folder, the old model intact.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae"]
    AutoEncoderScorer.load(path)


def test_load_errors_say_what_is_wrong(fitted, tmp_path):
    path = fitted[1].save(tmp_path / "ae")
    with pytest.raises(TypeError, match="holds a AutoEncoderScorer; load it with"):
        AnomalyCLRTransformer.load(path)
    with pytest.raises(FileNotFoundError, match="has no card.json"):
        load_model(tmp_path)
    card = json.loads((path / "card.json").read_text())
    (path / "card.json").write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(ValueError, match="Upgrade sklearn-aclr"):
        load_model(path)
    (path / "card.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(path)


# --- extrapolation guard ----------------------------------------------------------------------

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


# --- training faults --------------------------------------------------------------------------

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
