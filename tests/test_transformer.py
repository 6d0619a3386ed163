import copy
import logging
import pickle

import numpy as np
import pytest
import torch
from _tiny import TINY_ENCODER
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
from sklearn_aclr.augmentations import ShiftMET
from sklearn_aclr.metrics import anomaly_auc_scorer, anomaly_roc_auc, max_sic_scorer
from sklearn_aclr.model_selection import BackgroundKFold

TINY = dict(TINY_ENCODER, max_epochs=3)


@pytest.fixture(scope="module")
def fitted(labelled):
    X, y = labelled
    return AnomalyCLRTransformer(**TINY, random_state=0).fit(X[y == 0])


def test_transform_output(fitted, labelled):
    X, _ = labelled
    Z = fitted.transform(X)
    assert Z.shape == (len(X), 16 + 95) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    names = fitted.get_feature_names_out().tolist()
    assert names[:16] == [f"aclr{i}" for i in range(16)]
    assert names[16:] == EventScaler(features="standard", phi_encoding="sincos").fit(
        X).get_feature_names_out().tolist()


def test_the_default_representation_is_the_pooled_one_beside_the_standardised_raw_features(
        fitted, labelled):
    X, y = labelled
    Z = fitted.transform(X)
    pooled = copy.deepcopy(fitted).set_params(representation="pooled")
    np.testing.assert_array_equal(Z[:, :16], pooled.transform(X))
    # The raw features are standardised with the training background's statistics.
    raw = EventScaler(features="standard", phi_encoding="sincos").fit(X[y == 0]).transform(X)
    np.testing.assert_allclose(Z[:, 16:], raw, atol=1e-5)


def test_relative_raw_azimuth_turns_the_raw_block_only(fitted, labelled):
    X, y = labelled
    relative = AnomalyCLRTransformer(**TINY, raw_azimuth="relative", random_state=0).fit(
        X[y == 0])
    Z = relative.transform(X)
    # The encoder's training is untouched; the raw block is the turned EventScaler's.
    np.testing.assert_array_equal(Z[:, :16], fitted.transform(X)[:, :16])
    raw = EventScaler(features="standard", phi_encoding="sincos", azimuth="relative").fit(
        X[y == 0]).transform(X)
    np.testing.assert_allclose(Z[:, 16:], raw, atol=1e-5)
    assert not np.allclose(Z[:, 16:], fitted.transform(X)[:, 16:], atol=1e-2)
    assert AnomalyCLRTransformer().raw_azimuth == "absolute"


def test_relative_raw_azimuth_needs_collider_events():
    X = np.random.default_rng(0).normal(size=(40, 3))
    clr = AnomalyCLRTransformer(**TINY, layout="tabular", raw_azimuth="relative")
    with pytest.raises(ValueError, match="raw_azimuth='relative' turns collider events"):
        clr.fit(X)


def test_fitted_attributes(fitted):
    assert fitted.device_ == "cpu"
    assert fitted.n_features_in_ == 76
    assert fitted.n_epochs_ == 3 == len(fitted.loss_curve_) == len(fitted.validation_loss_curve_)
    assert np.isfinite(fitted.loss_curve_).all()
    assert fitted.layout_.name == "adc2021"


def test_input_forms_agree(fitted, labelled):
    X, _ = labelled
    np.testing.assert_array_equal(fitted.transform(X.reshape(len(X), -1)), fitted.transform(X))
    with pytest.raises(ValueError, match="57 features, but AnomalyCLRTransformer is expecting"):
        fitted.transform(X[..., :3])


def test_transform_is_batch_invariant(fitted, labelled):
    X, _ = labelled
    whole = fitted.transform(X)
    one_by_one = np.concatenate([fitted.transform(X[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(one_by_one, whole[:10], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("representation", "width"),
                         [("pooled+raw", 16 + 95), ("pooled", 16), ("head", 8)])
def test_representation_levels(labelled, representation, width):
    X, y = labelled
    clr = AnomalyCLRTransformer(**{**TINY, "max_epochs": 1}, representation=representation,
                                random_state=0).fit(X[y == 0])
    assert clr.transform(X[:5]).shape == (5, width)
    assert len(clr.get_feature_names_out()) == width
    assert AnomalyCLRTransformer().representation == "pooled+raw"  # the ablation's choice


def test_same_random_state_identical_fit(fitted, labelled):
    X, y = labelled
    again = AnomalyCLRTransformer(**TINY, random_state=0).fit(X[y == 0])
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(again.loss_curve_, fitted.loss_curve_)
    other = AnomalyCLRTransformer(**TINY, random_state=1).fit(X[y == 0])
    assert not np.allclose(other.transform(X), fitted.transform(X))


def test_pickle_round_trip(fitted, labelled):
    X, _ = labelled
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    assert "generators_" not in vars(restored.net_)  # device-bound, training-only state


def test_clone(fitted):
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "net_")


@pytest.mark.parametrize("loss", ["simclr", "anomclr_plus", "anomclr_batch"])
def test_other_losses(labelled, loss):
    X, y = labelled
    clr = AnomalyCLRTransformer(**{**TINY, "max_epochs": 1}, loss=loss, random_state=0)
    assert np.isfinite(clr.fit(X[y == 0]).transform(X[:5])).all()


def double_met(events, *, generator):
    """A user-written anomalous augmentation: module level, so it pickles."""
    out = events.clone()
    out[:, 0, 0] *= 2
    return out


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_custom_augmentations_and_callbacks(labelled):
    X, y = labelled
    counter = _CountEpochs()
    clr = AnomalyCLRTransformer(
        **{**TINY, "max_epochs": 2}, physical=["rotate_phi"],
        anomalous=[double_met, ShiftMET(factor_range=(2.0, 4.0)), "add_objects"],
        callbacks=[("count", counter)], random_state=0,
    ).fit(X[y == 0])
    assert dict(clr.net_.callbacks_)["count"].epochs == 2
    assert len(clr.net_.anomalous.augmentations) == 3
    pickle.loads(pickle.dumps(clr))


def test_verbose_prints_plain_epoch_lines(labelled, capsys):
    X, y = labelled
    AnomalyCLRTransformer(**{**TINY, "max_epochs": 1}, verbose=2, random_state=0).fit(X[y == 0])
    captured = capsys.readouterr()
    assert captured.out.startswith("epoch 1: train_loss ") and "valid_loss" in captured.out
    # No colour codes, carriage returns or progress bars off a terminal.
    assert "\x1b" not in captured.out + captured.err and "\r" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(n_heads=3), "n_heads=3 must divide d_model=16"),
        (dict(physical=["flip"]), "Unknown augmentation 'flip'"),
        (dict(anomalous=[]), "at least one augmentation"),
        (dict(loss="byol"), "loss"),
        (dict(temperature=0.0), "temperature"),
    ],
)
def test_bad_parameters(labelled, params, match):
    X, _ = labelled
    with pytest.raises(ValueError, match=match):
        AnomalyCLRTransformer(**{**TINY, **params}).fit(X[:50])


def test_too_few_events():
    with pytest.raises(ValueError, match="at least 2 events for training and 2 for validation"):
        AnomalyCLRTransformer(**TINY).fit(np.zeros((5, 19, 3)) + [[1.0, 0.0, 0.0]] + 0)


def test_a_lone_last_batch_is_dropped(labelled):
    X, y = labelled
    # 65 training events with batch_size 64 would leave one event alone in a batch.
    clr = AnomalyCLRTransformer(**{**TINY, "max_epochs": 1}, early_stopping=False, random_state=0)
    clr.fit(X[:65])
    assert np.isfinite(clr.loss_curve_).all()


def test_signal_is_found_by_the_pipeline(labelled):
    X, y = labelled
    pipe = make_pipeline(
        AnomalyCLRTransformer(**{**TINY, "max_epochs": 5}, random_state=0),
        AutoEncoderScorer(hidden_layer_sizes=(16,), latent_dim=3, max_epochs=20, random_state=0),
    ).fit(X[y == 0])
    assert anomaly_roc_auc(y, -pipe.score_samples(X)) > 0.75


@pytest.mark.parametrize("scoring", [anomaly_auc_scorer, max_sic_scorer], ids=["auc", "sic"])
def test_grid_search_over_both_steps(labelled, scoring):
    X, y = labelled
    pipe = make_pipeline(
        AnomalyCLRTransformer(**{**TINY, "max_epochs": 1}, random_state=0),
        AutoEncoderScorer(hidden_layer_sizes=(8,), latent_dim=2, max_epochs=2, random_state=0),
    )
    grid = {"anomalyclrtransformer__temperature": [0.1, 0.5],
            "autoencoderscorer__max_epochs": [1, 2]}
    search = GridSearchCV(pipe, grid, scoring=scoring, cv=BackgroundKFold(2), n_jobs=2)
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert len(search.cv_results_["params"]) == 4


def test_fit_leaves_the_global_torch_rng_alone(labelled):
    X, y = labelled
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    AnomalyCLRTransformer(**{**TINY, "max_epochs": 1}, random_state=0).fit(X[y == 0][:100])
    torch.testing.assert_close(torch.rand(2), expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks loading where CUDA is absent")
def test_a_model_saved_from_cuda_loads_on_cpu(fitted, labelled):
    """skorch records the training device; unpickling without CUDA maps the weights to CPU."""
    from skorch.exceptions import DeviceWarning

    X, _ = labelled
    expected = fitted.transform(X[:20])
    state = pickle.dumps(fitted)
    fitted.net_.device = "cuda"  # what a model trained on a GPU node records
    try:
        cuda_state = pickle.dumps(fitted)
    finally:
        fitted.net_.device = "cpu"
    with pytest.warns(DeviceWarning, match="CUDA"):
        restored = pickle.loads(cuda_state)
    assert str(restored.net_.device) == "cpu"
    restored.device_ = "cuda"  # the fitted attribute records the training device too
    np.testing.assert_array_equal(restored.transform(X[:20]), expected)
    assert str(pickle.loads(state).net_.device) == "cpu"


def test_the_nets_predict_gives_representations_not_views(fitted, labelled):
    """net_.predict returns one head output per event, as the module does, without views."""
    X, _ = labelled
    head = AnomalyCLRTransformer(**{**fitted.get_params(), "representation": "head"})
    for name in ("net_", "layout_", "device_", "n_features_in_", "n_epochs_",
                 "training_summary_"):
        setattr(head, name, getattr(fitted, name))
    predicted = fitted.net_.predict(X[:40].astype(np.float32))
    assert predicted.shape == (40, fitted.output_dim)
    np.testing.assert_allclose(predicted, head.transform(X[:40]), rtol=1e-5, atol=1e-6)


def test_verbose_goes_through_logging_when_configured(labelled, caplog):
    X, y = labelled
    with caplog.at_level(logging.INFO, logger="sklearn_aclr"):
        AnomalyCLRTransformer(**{**TINY, "max_epochs": 2}, verbose=2,
                              random_state=0).fit(X[y == 0])
    lines = [r.getMessage() for r in caplog.records if r.name == "sklearn_aclr"]
    assert len(lines) == 2 and lines[0].startswith("epoch 1: train_loss ")
    assert all("\x1b" not in line and "\r" not in line for line in lines)


def test_inference_in_order_of_multiplicity_returns_outputs_in_input_order(fitted, labelled):
    """On a CPU transform orders events by their number of objects (fuller batches run
    faster); the outputs come back in the order of the input."""
    from sklearn_aclr._torch_utils import apply_in_batches, unwrapped
    from sklearn_aclr._transformer import _n_objects, _pooled_and_raw

    X, _ = labelled
    events = X.astype(np.float32)
    module = unwrapped(fitted.net_.module_)
    plain = apply_in_batches(module, events, _pooled_and_raw, batch_size=7, device="cpu")
    ordered = apply_in_batches(module, events, _pooled_and_raw, batch_size=7, device="cpu",
                               sort_key=_n_objects)
    np.testing.assert_allclose(ordered, plain, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fitted.transform(X), plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("packing", [True, False])
def test_the_views_of_a_batch_are_encoded_in_the_order_of_the_loss(
        fitted, labelled, packing, monkeypatch):
    """The net encodes the views one pass per view where the encoder packs (CPUs) and in one
    pass elsewhere; both stack the representations view by view, as the loss expects."""
    from sklearn_aclr._torch_utils import unwrapped

    X, _ = labelled
    net = fitted.net_
    module = unwrapped(net.module_)
    monkeypatch.setattr(module, "packing", packing)
    module.eval()
    views = net._views(torch.as_tensor(X[:64], dtype=torch.float32), "valid")
    with torch.no_grad():
        stacked = net.encode(views)
        expected = torch.cat([module(view) for view in views])
    assert stacked.shape == (3 * 64, expected.shape[1])
    torch.testing.assert_close(stacked, expected, rtol=1e-5, atol=1e-5)
