import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

from sklearn_aclr.datasets import make_adc_events

# Fuzzing profiles: "ci" keeps the suite fast; "thorough" (tools/fuzz.py) is the maintainer's
# run of 10,000 examples per test. HYPOTHESIS_PROFILE or --hypothesis-profile chooses.
_FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=40, **_FUZZ)
settings.register_profile("thorough", max_examples=10_000, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """Tests marked gpu run where torch sees a CUDA device and are skipped elsewhere."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same global RNG state, so failures reproduce."""
    np.random.seed(0)  # noqa: NPY002 - the legacy global RNG is what unseeded code reads
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def background():
    """ADC2021-layout background events, (600, 19, 4)."""
    return make_adc_events(600, random_state=0)[0]


@pytest.fixture(scope="module")
def labelled():
    """Background and a clearly different four-lepton signal, with labels."""
    return make_adc_events(400, 200, signal="four_leptons", random_state=1)


# Small fitted models that several test modules read (the persistence, the extrapolation
# guard, the training loop), fitted once per session.
@pytest.fixture(scope="session")
def small_events():
    """(400, 19, 4) background events."""
    return make_adc_events(400, random_state=0)[0]


@pytest.fixture(scope="session")
def small_features(small_events):
    """``small_events`` through the paper's EventScaler: (400, 57)."""
    from sklearn_aclr import EventScaler

    return EventScaler().fit_transform(small_events)


@pytest.fixture(scope="session")
def small_fitted(small_events, small_features):
    """A tiny AnomalyCLRTransformer and AutoEncoderScorer fitted on the small events."""
    from _tiny import tiny_scorer, tiny_transformer

    return tiny_transformer().fit(small_events), tiny_scorer().fit(small_features)
