"""The catalogue of bad input: every case gets a ValueError, TypeError or OSError whose message
says what was wrong and how to fix it, and no half-written file is left behind."""

import os

import h5py
import numpy as np
import pytest
from _tiny import TINY_ENCODER
from scipy import sparse

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer
from sklearn_aclr._sources import EventSource
from sklearn_aclr.datasets import (
    ADC2021Stream,
    fetch_adc2021,
    load_adc2021,
    make_adc_events,
    write_adc2021,
)
from sklearn_aclr.persistence import load_model

SMALL = dict(TINY_ENCODER, max_epochs=1, device="cpu", random_state=0)


def _events(n=40):
    return make_adc_events(n, random_state=0)[0]


def _with(change):
    events = _events()
    change(events)
    return events


def _clr(**kwargs):
    return AnomalyCLRTransformer(**{**SMALL, **kwargs})


def _fit(X, **kwargs):
    return lambda tmp: _clr(**kwargs).fit(X)


def _transform_after_fit(X):
    return lambda tmp: _clr().fit(_events()).transform(X)


def _scorer_fit(X):
    return lambda tmp: AutoEncoderScorer(max_epochs=1, device="cpu").fit(X)


def _set(index, value):
    def change(events):
        events[index] = value
    return change


def _corrupt_file(tmp):
    path = tmp / "corrupt.h5"
    path.write_bytes(b"this is not an HDF5 file" * 10)
    return load_adc2021(path)


def _truncated_file(tmp):
    path = tmp / "full.h5"
    write_adc2021(path, _events(2000))
    data = path.read_bytes()
    (tmp / "cut.h5").write_bytes(data[: len(data) // 2])
    return load_adc2021(tmp / "cut.h5")


def _missing_key(tmp):
    path = tmp / "other.h5"
    with h5py.File(path, "w") as f:
        f["Jets"] = np.zeros((3, 19, 4))
    return load_adc2021(path)


def _unwritable_cache(tmp):
    blocker = tmp / "a-file"
    blocker.write_text("")
    return fetch_adc2021("background", data_home=blocker / "cache")


def _write_bad_events(tmp):
    return write_adc2021(tmp / "out.h5", np.full((3, 19, 4), np.nan))


def _save_under_a_file(tmp):
    blocker = tmp / "a-file"
    blocker.write_text("")
    scorer = AutoEncoderScorer(max_epochs=1, device="cpu").fit(np.ones((20, 3)))
    return scorer.save(blocker / "model")


def _load_not_a_model(tmp):
    return load_model(tmp)


def _stream_wrong_layout(tmp):
    path = tmp / "events.h5"
    write_adc2021(path, _events())
    return _clr(layout="tabular").fit(ADC2021Stream(path))


CASES = {
    "nan": (_fit(_with(_set((0, 1, 0), np.nan))), ValueError, "NaN"),
    "inf": (_fit(_with(_set((0, 1, 0), np.inf))), ValueError, "infinity"),
    "4d": (_fit(np.zeros((2, 19, 4, 1))), ValueError, "dim"),
    "wrong slot count": (_fit(np.zeros((10, 18, 4))), ValueError, "19"),
    "class id in the wrong slot": (_fit(_with(_set((0, 9, 3), 2.0))), ValueError, "class id"),
    "non-integer class id": (_fit(_with(_set((0, 0, 3), 1.5))), ValueError, "class id"),
    "negative pt": (_fit(_with(_set((0, 0, 0), -5.0))), ValueError, "pT"),
    "phi out of range": (_fit(_with(_set((0, 0, 2), 4.0))), ValueError, "phi"),
    "empty array": (_fit(np.zeros((0, 19, 4))), ValueError, "0 sample"),
    "one event": (_fit(_events(1)), ValueError, "at least 2 events"),
    "object dtype": (_fit(np.array([[["a"] * 4] * 19] * 3, dtype=object)), ValueError,
                     "must be numbers"),
    "a path instead of events": (_fit("events.h5"), TypeError, "ADC2021Stream"),
    "sparse": (_fit(sparse.random(10, 76, format="csr")), TypeError, "dense"),
    "different feature count at transform": (
        _transform_after_fit(_events()[:, :, :3]), ValueError, "features"),
    "raw events to the scorer": (_scorer_fit(_events()), ValueError, "EventScaler"),
    "nan features to the scorer": (_scorer_fit(np.full((10, 3), np.nan)), ValueError, "NaN"),
    "heads do not divide d_model": (_fit(_events(), n_heads=3), ValueError, "must divide"),
    "invalid hyperparameter": (_fit(_events(), batch_size=1), ValueError, "batch_size"),
    "corrupt hdf5 file": (_corrupt_file, OSError, "HDF5"),
    "truncated hdf5 file": (_truncated_file, OSError, "truncated"),
    "missing dataset key": (_missing_key, ValueError, "Particles"),
    "unwritable cache directory": (_unwritable_cache, OSError, "writable data_home"),
    "writing events with nan": (_write_bad_events, ValueError, "NaN"),
    "saving under a file": (_save_under_a_file, OSError, "a-file"),
    "loading what is not a model": (_load_not_a_model, FileNotFoundError, "card.json"),
    "stream with another layout": (_stream_wrong_layout, ValueError, "layout='adc2021'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_a_clear_error_and_leaves_nothing_behind(case, tmp_path):
    action, error, message = CASES[case]
    before = set(os.listdir(tmp_path))
    with pytest.raises(error, match=message):
        action(tmp_path)
    # Only the inputs a case wrote itself remain: no output file, no staging folder.
    left = set(os.listdir(tmp_path)) - before
    assert left <= {"corrupt.h5", "full.h5", "cut.h5", "other.h5", "a-file", "events.h5"}, left


class _UnreadableSource(EventSource):
    """A source that fails any read: a fit that reads it before checking parameters fails."""

    def __len__(self):
        return 1000

    def __getitem__(self, index):
        raise AssertionError("the data were read before the parameters were checked")

    __getitems__ = __getitem__


@pytest.mark.parametrize("estimator, match", [
    (_clr(n_heads=3), "must divide d_model"),
    (_clr(batch_size=1), "batch_size"),
    (AutoEncoderScorer(hidden_layer_sizes=(8, 0)), "positive integers"),
    (AutoEncoderScorer(contamination=0.7), "contamination"),
])
def test_parameters_are_checked_before_any_data_is_read(estimator, match):
    with pytest.raises(ValueError, match=match):
        estimator.fit(_UnreadableSource())
