"""Saved models find their class through the registry, never by running code from the file."""

import json

import numpy as np
import pytest

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
