import numpy as np
import pytest

from sklearn_aclr import ADC2021, EventLayout
from sklearn_aclr._layout import check_events, get_layout, to_canonical


def test_adc2021_slots():
    assert ADC2021.n_slots == 19
    assert ADC2021.slot_class.tolist() == [1] + [2] * 4 + [3] * 4 + [4] * 10
    assert ADC2021.slot_names[0] == "met"
    assert ADC2021.slot_names[1:5] == ("ele0", "ele1", "ele2", "ele3")
    assert ADC2021.slot_names[-1] == "jet9"
    assert ADC2021.accepted_widths == (76, 57)
    eta_max = ADC2021.slot_attribute("eta_max")
    assert eta_max[1] == 3.0 and eta_max[5] == 2.1 and eta_max[9] == 4.0
    assert ADC2021.slot_attribute("pt_min")[[1, 5, 9]].tolist() == [3.0, 3.0, 15.0]


@pytest.mark.parametrize(
    "reshape",
    [
        lambda X: X,
        lambda X: X[..., :3],
        lambda X: X.reshape(len(X), -1),
        lambda X: X[..., :3].reshape(len(X), -1),
    ],
    ids=["particles", "no-class", "flat", "flat-no-class"],
)
def test_every_input_form_gives_the_same_events(background, reshape):
    np.testing.assert_array_equal(check_events(reshape(background)), background)


def test_class_column_is_rebuilt_with_met_always_present():
    events = np.zeros((1, 19, 3))
    events[0, 9] = [30.0, 1.0, 0.5]  # a jet, MET at exactly 0 GeV
    canonical = to_canonical(events, ADC2021)
    assert canonical[0, :, 3].tolist() == [1] + [0] * 8 + [4] + [0] * 9


def _event():
    events = np.zeros((2, 19, 4))
    events[:, 0] = [20.0, 0.0, 1.0, 1]
    events[:, 1] = [30.0, 0.5, -1.0, 2]
    return events


def _set(slot, column, value):
    def corrupt(events):
        events[1, slot, column] = value
        return events

    return corrupt


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (_set(1, 0, np.nan), "NaN or infinite"),
        (_set(1, 1, np.inf), "NaN or infinite"),
        (_set(1, 0, -5.0), "Negative pT -5 in slot 1 \\(ele0\\)"),
        (_set(1, 2, 3.5), "outside \\[-pi, pi\\]"),
        (_set(1, 3, 3), "Class id 3 in slot 1 \\(ele0\\) of event 1"),
        (_set(9, 0, 25.0), "class id 0 \\(empty\\) but non-zero"),
        (lambda events: events[:, :18], "do not fit the 'adc2021' layout"),
        (lambda events: events[0], "do not fit the 'adc2021' layout"),
        (lambda events: np.concatenate([events, events[..., :1]], axis=2), "expected"),
    ],
    ids=["nan", "inf", "negative-pt", "phi", "class", "empty-slot", "slots", "2d-one-event",
         "columns"],
)
def test_bad_events_are_rejected_clearly(corrupt, match):
    with pytest.raises(ValueError, match=match):
        check_events(corrupt(_event()))


def test_phi_at_pi_in_float32_is_accepted():
    events = _event()
    events[:, 1, 2] = np.float32(np.pi)
    check_events(events.astype(np.float32))


def test_get_layout():
    assert get_layout("adc2021") is ADC2021
    tabular = get_layout("tabular", 3)
    assert tabular.n_slots == 3 and not tabular.has_class_column
    assert isinstance(tabular, EventLayout)
    with pytest.raises(ValueError, match="Unknown layout 'cms'"):
        get_layout("cms")
