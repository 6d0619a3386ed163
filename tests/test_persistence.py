"""Saving and loading: pickles, weights plus cards (no code run from the files), classes found
through the registry, whole pipelines."""

import json
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from _tiny import TINY_ENCODER

import sklearn_aclr
from sklearn_aclr.exceptions import ModelVersionWarning
from sklearn_aclr.persistence import load_model, read_card


class AutoEncoderScorer(sklearn_aclr.AutoEncoderScorer):
    """A user's subclass that shares the package class's name."""


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)


def test_a_subclass_of_the_same_name_does_not_take_over_loading(features, tmp_path):
    ours = sklearn_aclr.AutoEncoderScorer(max_epochs=1, random_state=0).fit(features)
    path = ours.save(tmp_path / "ours")
    assert type(load_model(path)) is sklearn_aclr.AutoEncoderScorer
    theirs = AutoEncoderScorer(max_epochs=1, random_state=0).fit(features)
    loaded = load_model(theirs.save(tmp_path / "theirs"))
    assert type(loaded) is AutoEncoderScorer  # its module is imported: it is registered
    np.testing.assert_array_equal(loaded.score_samples(features), theirs.score_samples(features))


def test_a_card_naming_another_module_is_refused(features, tmp_path):
    path = sklearn_aclr.AutoEncoderScorer(max_epochs=1, random_state=0).fit(features).save(
        tmp_path / "model")
    card = json.loads((path / "card.json").read_text())
    card["estimator_module"] = "os"
    card["estimator"] = "system"
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="unknown estimator 'system' of 'os'"):
        load_model(path)


# --- whole pipelines -------------------------------------------------------------------------

def _full_pipeline():
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer

    return make_pipeline(
        # Turned raw features: the encoder keeps its reference slots in card and weights.
        AnomalyCLRTransformer(**TINY_ENCODER, max_epochs=1, raw_azimuth="relative"),
        StandardScaler(), PCA(n_components=8, random_state=0),
        AutoEncoderScorer(hidden_layer_sizes=(8,), latent_dim=2, max_epochs=2, random_state=0),
    )


def test_a_whole_pipeline_saves_and_loads_without_pickle(tmp_path):
    pytest.importorskip("skops")
    from sklearn.pipeline import make_pipeline

    from sklearn_aclr import AutoEncoderScorer, EventScaler
    from sklearn_aclr.datasets import make_adc_events
    from sklearn_aclr.persistence import load_pipeline, save_pipeline

    X, _ = make_adc_events(300, random_state=0)
    # The second scaler's every parameter differs from its default: all of them must travel.
    for pipe in (_full_pipeline(), make_pipeline(
            EventScaler(features="standard", phi_encoding="sincos", azimuth="relative"),
            AutoEncoderScorer(hidden_layer_sizes=(8,), max_epochs=2, random_state=0))):
        pipe.fit(X)
        path = save_pipeline(pipe, tmp_path / "pipe", overwrite=True)
        assert not list(path.rglob("*.pkl")) and (path / "pipeline.json").exists()
        loaded = load_pipeline(path)
        assert [name for name, _ in loaded.steps] == [name for name, _ in pipe.steps]
        np.testing.assert_array_equal(loaded.decision_function(X), pipe.decision_function(X))
        np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_pipeline(pipe, path)
    with pytest.raises(TypeError, match="takes a Pipeline"):
        save_pipeline(pipe[-1], tmp_path / "step")


def test_a_seed_ensemble_saves_member_by_member(tmp_path):
    """Members of the package's estimators, of scikit-learn's and whole pipelines: each is
    written as a pipeline step would be, the ensemble's own numbers as JSON."""
    pytest.importorskip("skops")
    from _tiny import tiny_scorer, tiny_transformer
    from sklearn.base import clone
    from sklearn.ensemble import IsolationForest
    from sklearn.pipeline import make_pipeline

    from sklearn_aclr import EventScaler, SeedEnsemble
    from sklearn_aclr.datasets import make_adc_events
    from sklearn_aclr.persistence import load_pipeline, save_pipeline

    X, _ = make_adc_events(300, random_state=0)
    ensembles = (
        make_pipeline(EventScaler(), SeedEnsemble(tiny_scorer(random_state=None), n_members=2,
                                                  contamination="auto", random_state=0)),
        make_pipeline(EventScaler(), SeedEnsemble(IsolationForest(n_estimators=10),
                                                  n_members=2, random_state=1)),
        make_pipeline(SeedEnsemble(make_pipeline(tiny_transformer(max_epochs=1),
                                                 tiny_scorer(max_epochs=1)),
                                   n_members=2, random_state=2)),
    )
    for pipe in ensembles:
        pipe.fit(X)
        path = save_pipeline(pipe, tmp_path / "pipe", overwrite=True)
        assert not list(path.rglob("*.pkl"))
        loaded = load_pipeline(path)
        np.testing.assert_array_equal(loaded.decision_function(X), pipe.decision_function(X))
        np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
        ensemble, original = loaded[-1], pipe[-1]
        np.testing.assert_array_equal(ensemble.seeds_, original.seeds_)
        assert repr(clone(ensemble)) == repr(clone(original))
    card = json.loads((path / "pipeline.json").read_text())
    card["steps"][-1]["class"] = "NotAnEnsemble"
    (path / "pipeline.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="unknown step 'NotAnEnsemble' of 'sklearn_aclr._ens"):
        load_pipeline(path)


def test_a_pipeline_step_with_an_untrusted_function_is_refused(tmp_path):
    pytest.importorskip("skops")
    import operator

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from sklearn_aclr import AutoEncoderScorer
    from sklearn_aclr.persistence import load_pipeline, save_pipeline

    X = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    pipe = make_pipeline(FunctionTransformer(operator.neg),
                         AutoEncoderScorer(hidden_layer_sizes=(4,), max_epochs=1,
                                           random_state=0)).fit(X)
    path = save_pipeline(pipe, tmp_path / "pipe")
    with pytest.raises(ValueError, match=r"not trusted by default: \['_operator.neg'\]"):
        load_pipeline(path)
    loaded = load_pipeline(path, trusted=["_operator.neg"])
    np.testing.assert_array_equal(loaded.score_samples(X), pipe.score_samples(X))


# --- the package's estimators, saved and loaded -------------------------------------------

@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip_gives_identical_outputs(small_fitted, small_events, small_features,
                                                   tmp_path, dump):
    clr, scorer = small_fitted
    path = tmp_path / "model"
    if dump == "pickle":
        path.write_bytes(pickle.dumps((clr, scorer)))
        clr2, scorer2 = pickle.loads(path.read_bytes())
    else:
        joblib.dump((clr, scorer), path)
        clr2, scorer2 = joblib.load(path)
    np.testing.assert_array_equal(clr2.transform(small_events), clr.transform(small_events))
    np.testing.assert_array_equal(scorer2.score_samples(small_features),
                                  scorer.score_samples(small_features))


def test_save_load_gives_identical_outputs_and_a_full_card(small_fitted, small_events,
                                                           small_features, tmp_path):
    clr, scorer = small_fitted
    clr_path, scorer_path = clr.save(tmp_path / "clr"), scorer.save(tmp_path / "ae")
    assert sorted(p.name for p in clr_path.iterdir()) == ["card.json", "weights.pt"]

    loaded = sklearn_aclr.AnomalyCLRTransformer.load(clr_path)
    np.testing.assert_array_equal(loaded.transform(small_events), clr.transform(small_events))
    assert loaded.get_params() == clr.get_params()
    np.testing.assert_array_equal(loaded.loss_curve_, clr.loss_curve_)
    loaded_scorer = sklearn_aclr.AutoEncoderScorer.load(scorer_path)
    np.testing.assert_array_equal(loaded_scorer.score_samples(small_features),
                                  scorer.score_samples(small_features))
    np.testing.assert_array_equal(loaded_scorer.predict(small_features),
                                  scorer.predict(small_features))
    assert loaded_scorer.offset_ == scorer.offset_

    # The weights are plain tensors: torch's safe loader reads them.
    weights = torch.load(clr_path / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    card = read_card(clr_path)
    assert set(card["versions"]) >= {"sklearn_aclr", "torch", "skorch", "sklearn", "numpy"}
    assert card["layout"] == "adc2021" and card["params"]["d_model"] == 16
    jet_pt = card["training_summary"]["features"]["jet_pt"]
    present = small_events[:, 9:, 3] != 0
    assert jet_pt["min"] == pytest.approx(small_events[:, 9:, 0][present].min())
    assert jet_pt["max"] == pytest.approx(small_events[:, 9:, 0][present].max())
    assert len(jet_pt["quantiles"]) == len(card["training_summary"]["quantile_levels"])
    assert card["training_summary"]["features"]["n_jet"]["max"] == present.sum(1).max()


def test_save_keeps_what_json_cannot_hold_out_of_the_card(small_events, tmp_path):
    clr = sklearn_aclr.AnomalyCLRTransformer(**TINY_ENCODER, device="cpu", max_epochs=1,
                                            random_state=np.random.RandomState(0))
    clr.fit(small_events)
    card = read_card(clr.save(tmp_path / "clr"))
    assert card["params"]["random_state"] is None
    assert "RandomState" in card["unsaved_params"]["random_state"]


def test_load_warns_when_the_versions_differ(small_fitted, tmp_path):
    path = small_fitted[1].save(tmp_path / "ae")
    card = json.loads((path / "card.json").read_text())
    card["versions"]["sklearn_aclr"] = "0.0.1"
    (path / "card.json").write_text(json.dumps(card))
    with pytest.warns(ModelVersionWarning, match="saved by sklearn-aclr 0.0.1"):
        sklearn_aclr.AutoEncoderScorer.load(path)


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(_Payload.target),))


def test_loading_never_runs_code_from_the_files(small_fitted, tmp_path):
    path = small_fitted[1].save(tmp_path / "ae")
    _Payload.target = str(tmp_path / "pwned")
    torch.save({"weights": _Payload()}, path / "weights.pt")
    with pytest.raises(ValueError, match="could not be read as plain tensors"):
        load_model(path)
    assert not (tmp_path / "pwned").exists()


def test_save_is_atomic(small_fitted, tmp_path, monkeypatch):
    scorer = small_fitted[1]
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
    sklearn_aclr.AutoEncoderScorer.load(path)


def test_load_errors_say_what_is_wrong(small_fitted, tmp_path):
    path = small_fitted[1].save(tmp_path / "ae")
    with pytest.raises(TypeError, match="holds a AutoEncoderScorer; load it with"):
        sklearn_aclr.AnomalyCLRTransformer.load(path)
    with pytest.raises(FileNotFoundError, match="has no card.json"):
        load_model(tmp_path)
    card = json.loads((path / "card.json").read_text())
    (path / "card.json").write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(ValueError, match="Upgrade sklearn-aclr"):
        load_model(path)
    (path / "card.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(path)
