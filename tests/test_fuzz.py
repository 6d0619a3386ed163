"""Fuzzing with hypothesis: augmentations on arbitrary valid events, validation on arbitrary
arrays. Events are drawn value by value, so the boundaries (thresholds, acceptance edges,
phi = -pi, full and empty types) come up, not only typical events."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sklearn_aclr import ADC2021, EventScaler
from sklearn_aclr._layout import check_events
from sklearn_aclr._validation import validate_events
from sklearn_aclr.augmentations import (
    AUGMENTATIONS,
    Compose,
    OneOf,
    default_augmentations,
    passes_selection,
    slot_table,
)

COLLIDER = [name for name in AUGMENTATIONS if name not in ("jitter_values", "scale_values")]
# The number of examples comes from the profile (tests/conftest.py): 40 in CI, 10,000 with
# tools/fuzz.py.
FUZZ = settings(deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
unit = st.floats(0.0, 1.0, width=32, exclude_max=True)


@st.composite
def adc_events(draw, max_events=6):
    """Valid ADC2021 events: per type a count of objects, their values drawn from [0, 1) and
    mapped onto the physical ranges (thresholds and acceptance edges included)."""
    n = draw(st.integers(1, max_events))
    u = draw(hnp.arrays(np.float32, (n, 19, 3), elements=unit))
    events = np.zeros((n, 19, 4), dtype=np.float32)
    events[:, 0] = np.stack([1000 * u[:, 0, 0], np.zeros(n), np.pi * (2 * u[:, 0, 2] - 1),
                             np.ones(n)], axis=1)
    for object_type in ADC2021.object_types[1:]:
        slots = ADC2021.slots_of(object_type.name)
        for i in range(n):
            k = draw(st.integers(0, len(slots)))
            block = u[i, slots[:k]]
            pt = np.sort(object_type.pt_min + 3000 * block[:, 0])[::-1]
            eta = 0.999 * object_type.eta_max * (2 * block[:, 1] - 1)
            phi = np.pi * (2 * block[:, 2] - 1)
            events[i, slots[:k]] = np.stack([pt, eta, phi, np.full(k, object_type.class_id)], 1)
    return events


@pytest.mark.parametrize("name", COLLIDER)
@FUZZ
@given(events=adc_events(), seed=st.integers(0, 2**32 - 1))
def test_every_augmentation_turns_valid_events_into_valid_events(events, name, seed):
    augmentation = AUGMENTATIONS[name]()
    x = torch.as_tensor(events)
    before = x.clone()
    out = augmentation(x, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(x, before), "the input was modified"
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.isfinite(out).all()
    check_events(out.numpy().astype(np.float64), ADC2021)  # raises on anything unphysical
    table = slot_table("adc2021", x)
    assert (passes_selection(out, table) | ~passes_selection(x, table)).all(), "selection lost"


@FUZZ
@given(events=adc_events(), seed=st.integers(0, 2**32 - 1))
def test_the_default_views_are_valid_and_reproducible(events, seed):
    physical_names, anomalous_names = default_augmentations("adc2021")
    physical = Compose([AUGMENTATIONS[name]() for name in physical_names])
    anomalous = OneOf([AUGMENTATIONS[name]() for name in anomalous_names])
    x = torch.as_tensor(events)
    for view in (physical, anomalous):
        first = view(x, generator=torch.Generator().manual_seed(seed))
        again = view(x, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(first, again)
        check_events(first.numpy().astype(np.float64), ADC2021)


anything = st.floats(allow_nan=True, allow_infinity=True, width=32)


@FUZZ
@given(X=st.one_of(
    hnp.arrays(np.float32, st.sampled_from([(3, 19, 4), (2, 19, 3), (2, 76), (2, 57)]),
               elements=anything),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=20),
               elements=anything),
))
def test_validation_accepts_valid_events_and_rejects_the_rest_with_a_value_error(X):
    """Whatever the array, validation returns canonical events that pass the physics checks
    or raises a ValueError: never another exception, never garbage through."""
    try:
        events, layout = validate_events(EventScaler(), X, reset=True)
    except ValueError as exc:
        message = str(exc)
        assert len(message) > 20, message  # a sentence, not a bare code
        return
    assert events.ndim == 3 and events.shape[1] == 19 and events.shape[2] == 4
    assert np.isfinite(events).all()
    check_events(events, layout)
