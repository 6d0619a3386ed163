"""The Pythia 8 + FastJet simulation (the [sim] extra); skipped where it is not installed."""

import h5py
import numpy as np
import pytest

from sklearn_aclr import ADC2021
from sklearn_aclr._layout import check_events
from sklearn_aclr.datasets import load_adc2021

pytest.importorskip("pythia8mc")
fastjet = pytest.importorskip("fastjet")

from sklearn_aclr.datasets import iter_simulated_events, simulate_events  # noqa: E402
from sklearn_aclr.datasets._simulation import _make_detector, _reconstruct  # noqa: E402

ELE, MU, JET = (ADC2021.slots_of(name) for name in ("ele", "mu", "jet"))


@pytest.fixture(scope="module")
def z_events():
    return simulate_events("Z_ll", 60, random_state=0, chunk_size=30, return_info=True)


def _mass(events, slots):
    """Invariant mass of the two leading (massless) objects in ``slots``."""
    pt, eta, phi = (events[:, slots[:2], i].astype(np.float64) for i in range(3))
    return np.sqrt(2 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1])
                                               - np.cos(phi[:, 0] - phi[:, 1])))


def test_events_follow_the_adc2021_definitions(z_events):
    X, info = z_events
    assert X.shape == (60, 19, 4) and X.dtype == np.float32
    check_events(X, ADC2021)  # class ids, empty slots, |phi| <= pi
    leptons = np.concatenate([X[:, ELE, 0], X[:, MU, 0]], axis=1)
    assert (leptons.max(axis=1) > 23).all()  # the lepton filter
    for slots, eta_max, pt_min in ((ELE, 3.0, 3.0), (MU, 2.1, 3.0), (JET, 4.0, 15.0)):
        present = X[:, slots, 3] != 0
        assert (np.abs(X[:, slots, 1])[present] < eta_max).all()
        assert (X[:, slots, 0][present] > pt_min).all()
        assert (np.diff(X[:, slots, 0], axis=1) <= 0).all()  # sorted by pT, empty slots last
    assert (X[:, 0, 3] == 1).all() and (X[:, 0, 1] == 0).all()
    assert info["n_generated"] >= 60 and 0 < info["efficiency"] <= 1
    assert info["cross_section_pb"] > 0


def test_z_peak(z_events):
    # Same-flavour pairs reconstruct the Z: a physics check that smearing and slots are right.
    X, _ = z_events
    masses = [_mass(X[(X[:, s[1], 3] != 0)], s) for s in (ELE, MU)]
    masses = np.concatenate(masses)
    assert len(masses) > 30
    assert 85 < np.median(masses) < 97


def test_w_transverse_mass_edge():
    X = simulate_events("W_lnu", 40, random_state=1, chunk_size=40)
    lead = np.where(X[:, ELE[0], 0] >= X[:, MU[0], 0], ELE[0], MU[0])
    lep = X[np.arange(len(X)), lead]
    mt = np.sqrt(2 * lep[:, 0] * X[:, 0, 0] * (1 - np.cos(lep[:, 2] - X[:, 0, 2])))
    assert 50 < np.median(mt) < 90  # the Jacobian peak sits just below m_W
    assert np.mean(mt < 100) > 0.8


@pytest.mark.slow
def test_same_seed_same_events_whatever_n_jobs():
    kwargs = dict(random_state=3, chunk_size=10)
    first = simulate_events("ttbar", 20, n_jobs=1, **kwargs)
    np.testing.assert_array_equal(first, simulate_events("ttbar", 20, n_jobs=2, **kwargs))
    chunks = [events for events, _ in iter_simulated_events("ttbar", 20, **kwargs)]
    assert [len(c) for c in chunks] == [10, 10]
    np.testing.assert_array_equal(np.concatenate(chunks), first)
    assert not np.array_equal(first, simulate_events("ttbar", 20, random_state=4, chunk_size=10))


def _particles(*rows):
    """(n, 5) visible particles from (pt, eta, phi, pdg id) rows, massless."""
    pt, eta, phi, pdg = np.array(rows, dtype=np.float64).T
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta),
                     pdg], axis=1)


EXACT = _make_detector(lepton_pt_resolution=0.0, angular_resolution=0.0,
                       jet_energy_resolution=(0.0, 0.0))


def _run(particles, detector=EXACT):
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, detector.jet_radius)
    return _reconstruct(particles, np.random.default_rng(0), definition, detector, fastjet)


def test_reconstruction_of_a_hand_made_event():
    # An isolated 40 GeV electron, a jet of two 15 GeV pions, and a 30 GeV muon sitting
    # inside that jet (not isolated): the muon must end up in the jet, not in a muon slot.
    event = _run(_particles((40, 0.5, 0.0, 11), (15, -1.0, 3.0, 211), (15, -1.05, 3.05, -211),
                            (30, -1.02, 3.02, 13), (1.0, 4.9, 1.0, 22), (5, 6.0, 0, 211)))
    assert event[ELE[0], 0] == pytest.approx(40) and event[ELE[0], 3] == 2
    assert (event[MU, 3] == 0).all()
    assert event[JET[0], 0] == pytest.approx(60, rel=1e-3) and event[JET[1], 3] == 0
    # MET balances every visible particle within |eta| < 5 (the pT = 5 pion at eta 6 is lost).
    visible = _particles((40, 0.5, 0.0, 11), (15, -1.0, 3.0, 211), (15, -1.05, 3.05, -211),
                         (30, -1.02, 3.02, 13), (1.0, 4.9, 1.0, 22))
    met = -visible[:, :2].sum(axis=0)
    assert event[0, 0] == pytest.approx(np.hypot(*met), rel=1e-5)
    assert event[0, 2] == pytest.approx(np.arctan2(met[1], met[0]), abs=1e-5)


def test_lepton_filter_and_acceptance():
    assert _run(_particles((20, 0.0, 0.0, 13), (50, 1.0, 2.0, 211))) is None  # lepton < 23
    assert _run(_particles((40, 2.5, 0.0, 13))) is None  # muon beyond |eta| 2.1
    event = _run(_particles((40, 2.5, 0.0, 11)))  # an electron there is accepted
    assert event[ELE[0], 0] == pytest.approx(40)


def test_a_muon_beyond_the_muon_system_is_missing_energy_not_a_jet():
    # A 30 GeV muon at eta 3 (beyond |eta| 2.1) beside an isolated electron: the calorimeter
    # does not see a minimum-ionising muon, so there is no jet and MET balances the electron.
    event = _run(_particles((40, 0.5, 0.0, 11), (30, 3.0, 2.0, 13), (30, -3.0, -2.0, -13)))
    assert (event[JET, 3] == 0).all() and (event[MU, 3] == 0).all()
    assert event[0, 0] == pytest.approx(40, rel=1e-5)
    assert abs(np.cos(event[0, 2]) + 1) < 1e-6  # opposite to the electron
    # Inside the acceptance the same muons are reconstructed as muons.
    event = _run(_particles((40, 0.5, 0.0, 11), (30, 1.0, 2.0, 13), (30, -1.0, -2.0, -13)))
    assert event[MU[:2], 0].tolist() == pytest.approx([30, 30]) and (event[JET, 3] == 0).all()


def test_jet_energy_resolution_has_constant_and_stochastic_terms():
    detector = _make_detector(lepton_pt_resolution=0.0, angular_resolution=0.0)
    rng = np.random.default_rng(0)
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, detector.jet_radius)
    particles = _particles((40, 0.0, 0.0, 11), (500, 0.0, np.pi, 211))
    jets = np.array([_reconstruct(particles, rng, definition, detector, fastjet)[JET[0], 0]
                     for _ in range(2000)])
    # sqrt((0.05 * 500)^2 + 1.5^2 * 500) = 42.1 GeV: 8.4%, not the 23.5% of the formula
    # with its squares lost.
    assert jets.std() / 500 == pytest.approx(0.0842, rel=0.06)


def test_smearing_moves_met_with_the_objects():
    detector = _make_detector(jet_energy_resolution=(0.05, 1.5))
    event = _run(_particles((40, 0.0, 0.0, 11), (60, 0.0, np.pi, 211)), detector)
    jet = event[JET[0]]
    assert jet[0] != pytest.approx(60)  # smeared
    # All visible particles are in the two objects, so MET is minus their smeared vector sum.
    ele = event[ELE[0]]
    sum_x = ele[0] * np.cos(ele[2]) + jet[0] * np.cos(jet[2])
    sum_y = ele[0] * np.sin(ele[2]) + jet[0] * np.sin(jet[2])
    assert event[0, 0] == pytest.approx(np.hypot(sum_x, sum_y), rel=1e-4, abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(process="Zprime"), ValueError, "Unknown process 'Zprime'"),
        (dict(n_events=0), ValueError, "n_events must be a positive integer"),
        (dict(chunk_size=2.5), ValueError, "chunk_size must be a positive integer"),
        (dict(isolation_max=-1), ValueError, "isolation_max must be a positive number"),
        (dict(jet_energy_resolution=(1,)), ValueError, "two non-negative numbers"),
        (dict(pythia_settings="PartonLevel:MPI = off"), TypeError, "not one string"),
        (dict(pythia_settings=["NoSuch:setting = 3"]), ValueError, "does not understand"),
        (dict(lepton_filter_pt=1e5, max_tries=2), RuntimeError, "Loosen the cuts"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    arguments = dict(process="Z_ll", n_events=2, random_state=0) | kwargs
    with pytest.raises(error, match=match):
        simulate_events(arguments.pop("process"), arguments.pop("n_events"), **arguments)


def test_command_line_writes_an_adc2021_file(tmp_path, capsys):
    from sklearn_aclr._cli import main

    path = tmp_path / "w.h5"
    assert main(["simulate", "W_lnu", "12", "-o", str(path), "--seed", "5",
                 "--chunk-size", "6"]) == 0
    events = load_adc2021(path)
    np.testing.assert_array_equal(
        events, simulate_events("W_lnu", 12, random_state=5, chunk_size=6)
    )
    with h5py.File(path) as f:
        assert f.attrs["command"].startswith("sklearn-aclr simulate W_lnu 12")
        assert f.attrs["seed"] == 5 and f.attrs["n_generated"] >= 12
    assert "Wrote 12 W_lnu events" in capsys.readouterr().out

    with pytest.raises(OSError, match="not a writable folder"):
        main(["simulate", "W_lnu", "3", "-o", str(tmp_path / "nowhere" / "w.h5")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.h5"]
