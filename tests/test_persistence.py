"""Saved models find their class through the registry, never by running code from the file."""

import json

import numpy as np
import pytest
from _tiny import TINY_ENCODER

import sklearn_aclr
from sklearn_aclr.persistence import load_model


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
        AnomalyCLRTransformer(**TINY_ENCODER, max_epochs=1),
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
    for pipe in (_full_pipeline(), make_pipeline(
            EventScaler(features="standard", phi_encoding="sincos"),
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
