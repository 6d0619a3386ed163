import numpy as np
import pytest
import torch

from sklearn_aclr.datasets import make_adc_events


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
