"""Jagged collections and ROOT files into the ADC2021 layout (sklearn_aclr.io)."""

import h5py
import numpy as np
import pytest

from sklearn_aclr import ADC2021, AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
from sklearn_aclr.datasets import make_adc_events

ak = pytest.importorskip("awkward")
uproot = pytest.importorskip("uproot")

from sklearn_aclr.io import NANOAOD_BRANCHES, from_awkward, root_to_hdf5  # noqa: E402

TYPES = {"electrons": "ele", "muons": "mu", "jets": "jet"}


def to_collections(events, shuffle=None):
    """ADC2021 events as the jagged collections an analysis holds (empty slots dropped);
    ``shuffle`` (a Generator) puts the objects of each event in random order."""
    collections = {"met": ak.zip({"pt": events[:, 0, 0], "phi": events[:, 0, 2]})}
    for collection, type_name in TYPES.items():
        block = events[:, ADC2021.slots_of(type_name)]
        rows = [row[row[:, 3] > 0] for row in block]
        if shuffle is not None:
            rows = [row[shuffle.permutation(len(row))] for row in rows]
        collections[collection] = ak.zip({
            field: ak.Array([row[:, k].tolist() for row in rows])
            for k, field in enumerate(("pt", "eta", "phi"))})
    return collections


@pytest.fixture(scope="module")
def events():
    return make_adc_events(300, random_state=0)[0]


def _sorted_by_pt(events):
    """The events with the objects of each type sorted by pT, hardest first."""
    out = events.copy()
    for type_name in TYPES.values():
        slots = ADC2021.slots_of(type_name)
        order = np.argsort(-events[:, slots, 0], axis=1, kind="stable")
        out[:, slots] = np.take_along_axis(events[:, slots], order[..., None], axis=1)
    return out


def test_jagged_collections_of_adc2021_events_come_back_unchanged(events):
    collections = to_collections(events, shuffle=np.random.default_rng(0))
    result = from_awkward(**collections)
    np.testing.assert_array_equal(result.events, _sorted_by_pt(events))
    assert result.selected.all() and result.events.dtype == np.float32
    assert result.n_outside_acceptance == result.n_clipped == {
        "electrons": 0, "muons": 0, "jets": 0}


def test_acceptance_thresholds_slots_and_selection():
    met = ak.zip({"pt": [20.0, 20.0, 20.0], "phi": [0.0, 1.0, -1.0]})
    electrons = ak.zip({"pt": [[30.0, 2.0], [50.0], [10.0]], "eta": [[0.0, 0.0], [3.5], [0.0]],
                        "phi": [[0.0, 0.0], [0.0], [0.0]]})
    n_jets = 12
    jets = ak.zip({"pt": [list(np.arange(20.0, 20.0 + n_jets)), [], []],
                   "eta": [[0.0] * n_jets, [], []], "phi": [[0.5] * n_jets, [], []]})
    result = from_awkward(met=met, electrons=electrons, jets=jets)
    # Event 0: one electron kept (the 2 GeV one is below threshold), 10 of 12 jets, hardest
    # first. Event 1: its electron is outside |eta| < 3, so no lepton: not selected. Event 2:
    # a 10 GeV electron is below the 23 GeV selection.
    assert result.selected.tolist() == [True, False, False]
    assert result.n_outside_acceptance == {"electrons": 2, "muons": 0, "jets": 0}
    assert result.n_clipped == {"electrons": 0, "muons": 0, "jets": 2}
    event = result.events[0]
    assert event[1].tolist() == [30.0, 0.0, 0.0, 2.0] and (event[2:5] == 0).all()
    np.testing.assert_array_equal(event[9:, 0], np.arange(31.0, 21.0, -1.0))
    assert (event[9:, 3] == 4).all()
    everything = from_awkward(met=met, electrons=electrons, jets=jets, acceptance=False,
                              selection=False)
    assert len(everything.events) == 3 and everything.events[1, 1, 1] == 3.5


def test_bad_collections_get_errors_that_say_what_to_do(events):
    collections = to_collections(events)
    with pytest.raises(ValueError, match="jets has 299 events, met has 300"):
        from_awkward(**{**collections, "jets": collections["jets"][1:]})
    with pytest.raises(ValueError, match="muons has no field 'eta'.*ak.zip"):
        from_awkward(**{**collections, "muons": ak.zip({"pt": [[1.0]] * 300})})
    broken = to_collections(events)
    broken["met"] = ak.zip({"pt": np.full(300, np.nan), "phi": np.zeros(300)})
    with pytest.raises(ValueError, match="NaN"):
        from_awkward(**broken)


@pytest.mark.parametrize("estimator", [AnomalyCLRTransformer(), EventScaler(),
                                       AutoEncoderScorer()])
def test_jagged_input_to_an_estimator_names_the_converter(events, estimator):
    with pytest.raises(TypeError, match=r"awkward array.*sklearn_aclr.io.from_awkward"):
        estimator.fit(to_collections(events)["jets"])


def write_nanoaod(path, events, *, extra_muon_at=None):
    """A NanoAOD-like ROOT file (MET_pt, nMuon, Muon_pt, ...) holding ``events``."""
    collections = to_collections(events)
    names = {"electrons": "Electron", "muons": "Muon", "jets": "Jet"}
    data = {"MET_pt": collections["met"]["pt"], "MET_phi": collections["met"]["phi"]}
    data.update({names[c]: collections[c] for c in TYPES})
    with uproot.recreate(path) as f:
        f.mktree("Events", {key: value.type for key, value in data.items()},
                 field_name=lambda outer, inner: f"{outer}_{inner}",
                 counter_name=lambda counted: f"n{counted}")
        f["Events"].extend(data)
    return path


@pytest.mark.parametrize("step_size", [1000, 37])
def test_a_root_file_streams_into_an_hdf5_file_of_the_same_events(events, tmp_path,
                                                                  step_size):
    source = write_nanoaod(tmp_path / "nano.root", events)
    assert {"Muon_pt", "nJet", "MET_phi"} <= set(uproot.open(source)["Events"].keys())
    stream = root_to_hdf5([source, source], tmp_path / "events.h5", step_size=step_size)
    both = np.concatenate([_sorted_by_pt(events)] * 2)
    np.testing.assert_array_equal(stream[:], both)
    with h5py.File(tmp_path / "events.h5") as f:
        assert f.attrs["n_entries"] == f.attrs["n_events"] == 600
        assert f.attrs["tree"] == "Events" and len(f.attrs["source"]) == 2
    # The stream goes straight into the estimators.
    scaler = EventScaler().fit(stream)
    np.testing.assert_allclose(scaler.transform(stream), EventScaler().fit(both).transform(both),
                               rtol=1e-6)


def test_a_failed_conversion_leaves_no_file(events, tmp_path):
    source = write_nanoaod(tmp_path / "nano.root", events)
    with pytest.raises(ValueError, match="branches maps 'met'"):
        root_to_hdf5(source, tmp_path / "events.h5", branches={"jets": NANOAOD_BRANCHES["jets"]})
    with pytest.raises(Exception, match="Photon_pt"):
        root_to_hdf5(source, tmp_path / "events.h5",
                     branches={**NANOAOD_BRANCHES, "jets": ("Photon_pt", "Jet_eta", "Jet_phi")})
    assert not list(tmp_path.glob("events.h5*"))
