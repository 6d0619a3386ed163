"""Simulated ADC2021-layout events: Pythia 8 generates, FastJet clusters, a simple detector smears.

This is the optional ``[sim]`` extra (``pip install "sklearn-aclr[sim]"``, which installs
``pythia8mc`` and ``fastjet``). The reconstruction follows the ADC2021 object definitions
(Govorkova et al., Sci Data 9, 118 (2022)): isolated electrons and muons above 3 GeV, anti-kT
R = 0.4 jets above 15 GeV with ``|eta|`` < 4, missing transverse momentum from the visible
particles, and the lepton filter (an electron or muon above 23 GeV). The detector is a Gaussian
smearing of pT, eta and phi, not a Delphes simulation, and there is no pile-up: the events are
ADC-like, not a replica of the CMS samples.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import check_random_state

from sklearn_aclr._layout import ADC2021
from sklearn_aclr.datasets._processes import PROCESSES, Process  # noqa: F401 - re-exported

__all__ = ["PROCESSES", "Process", "iter_simulated_events", "simulate_events"]


_MB_TO_PB = 1e9
_ELECTRON, _MUON = 11, 13


@dataclass(frozen=True)
class _Detector:
    """The object definitions and the smearing, all in one picklable record."""

    center_of_mass_energy: float
    lepton_filter_pt: float
    isolation_cone: float
    isolation_max: float
    jet_radius: float
    jet_pt_min: float
    jet_eta_max: float
    calorimeter_eta_max: float
    lepton_pt_resolution: float
    jet_energy_resolution: tuple
    angular_resolution: float


def simulate_events(process, n_events, *, random_state=None, n_jobs=None, chunk_size=500,
                    center_of_mass_energy=13000.0, lepton_filter_pt=23.0, isolation_cone=0.3,
                    isolation_max=0.15, jet_radius=0.4, jet_pt_min=15.0, jet_eta_max=4.0,
                    calorimeter_eta_max=5.0, lepton_pt_resolution=0.02,
                    jet_energy_resolution=(0.05, 1.5), angular_resolution=0.01,
                    pythia_settings=(), max_tries=1000, return_info=False):
    """Generate events of a physics process and reconstruct them in the ADC2021 layout.

    Pythia 8 generates proton-proton collisions at 13 TeV, with parton showers, multi-parton
    interactions, hadronisation and decays. The visible final-state particles within the
    calorimeter (``|eta| < calorimeter_eta_max``; neutrinos are invisible) are reconstructed as:

    - **electrons and muons**: pT and ``|eta|`` within the ADC2021 acceptance (3 GeV;
      ``|eta|`` < 3 for electrons, < 2.1 for muons) and isolated: the other visible particles within
      ``Delta R < isolation_cone`` carry less than ``isolation_max`` times the lepton's pT;
    - **jets**: anti-kT clusters (FastJet) of all other visible particles, hadronic taus and
      non-isolated leptons included, with pT > ``jet_pt_min`` and ``|eta| < jet_eta_max``;
    - **MET**: minus the vector sum of the visible particles' pT, corrected for the smearing
      of the reconstructed objects.

    Muons outside the muon acceptance (``|eta|`` >= 2.1) are invisible, like neutrinos: a muon
    leaves almost no energy in the calorimeter, so where the muon system does not see it, it
    is neither a muon nor part of a jet, and its momentum shows up in MET.

    Smearing: leptons get a relative pT resolution ``lepton_pt_resolution``; jets the
    calorimeter resolution ``sigma = sqrt((c pT)^2 + s^2 pT)`` GeV with the constant and
    stochastic terms ``(c, s) = jet_energy_resolution`` (the Delphes CMS form, pT standing in
    for E); every object ``angular_resolution`` in eta and phi. Acceptance cuts act after
    smearing. Objects are sorted by pT; the 4 leading electrons, 4 muons and 10 jets fill the
    slots. An event is kept if an electron or muon has pT > ``lepton_filter_pt``; generation
    runs until ``n_events`` events are kept.

    Work is cut into chunks of ``chunk_size`` kept events, each with its own seed drawn from
    ``random_state``, so the result does not depend on ``n_jobs``. Expect about 40 kept W
    events per second per core; signals with taus pass the lepton filter rarely (a few percent)
    and take about ten times longer.

    Parameters
    ----------
    process : str
        A key of :data:`PROCESSES`: ``"W_lnu"``, ``"Z_ll"``, ``"ttbar"``,
        ``"QCD_heavy_flavour"`` (biased, see its description), or a signal: ``"Ato4l"``,
        ``"leptoquark"``, ``"hToTauTau"``, ``"hChToTauNu"``.
    n_events : int
        Number of events to return, all passing the lepton filter.
    random_state : int, RandomState instance or None, default=None
        Seed of the generation and of the smearing.
    n_jobs : int, default=None
        Processes generating chunks in parallel (joblib); None means 1.
    chunk_size : int, default=500
        Kept events per chunk.
    center_of_mass_energy : float, default=13000.0
        Proton-proton collision energy in GeV.
    lepton_filter_pt : float, default=23.0
        pT in GeV above which an electron or muon lets the event pass the filter.
    isolation_cone : float, default=0.3
        Radius in (eta, phi) of the lepton isolation cone.
    isolation_max : float, default=0.15
        Largest allowed ratio of the cone's other pT to the lepton's pT.
    jet_radius : float, default=0.4
        Anti-kT radius parameter.
    jet_pt_min : float, default=15.0
        Jet pT threshold in GeV.
    jet_eta_max : float, default=4.0
        Jet acceptance in ``|eta|``.
    calorimeter_eta_max : float, default=5.0
        Particles beyond this ``|eta|`` are not seen, neither in jets nor in MET.
    lepton_pt_resolution : float, default=0.02
        Relative pT resolution of electrons and muons.
    jet_energy_resolution : tuple of float, default=(0.05, 1.5)
        Constant and stochastic terms ``(c, s)`` of the jet resolution
        ``sqrt((c pT)^2 + s^2 pT)`` GeV: 5% and 150%/sqrt(pT / GeV), the Delphes CMS
        calorimeter (sigma/pT = 0.084 at 500 GeV, 0.39 at 15 GeV). The AnomalyCLR authors'
        code has ``sqrt(0.052 pT^2 + 1.502 pT)``, which reads like this formula with its
        squares lost; it is ``(0.228, 1.226)`` here.
    angular_resolution : float, default=0.01
        Resolution in eta and in phi (radians) of every object.
    pythia_settings : sequence of str, default=()
        Extra Pythia settings, read after the process's own, for example
        ``["PartonLevel:MPI = off"]``.
    max_tries : int, default=1000
        Give up on a chunk after ``max_tries`` generated events per requested event, for cuts
        that (almost) nothing passes.
    return_info : bool, default=False
        Also return a dict with the number of generated events, the filter efficiency and the
        generated cross section in pb.

    Returns
    -------
    events : ndarray of shape (n_events, 19, 4), dtype float32
        Events in the ADC2021 ``Particles`` layout (pT, eta, phi, class id).
    info : dict
        Only if ``return_info``: ``n_generated``, ``efficiency``, ``cross_section_pb``
        (Pythia's estimate before the filter) and ``process``.

    Examples
    --------
    >>> from sklearn_aclr.datasets import simulate_events  # doctest: +SKIP
    >>> X = simulate_events("W_lnu", 200, random_state=0)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (200, 19, 4)
    """
    events, infos = [], []
    for chunk, info in iter_simulated_events(
        process, n_events, random_state=random_state, n_jobs=n_jobs, chunk_size=chunk_size,
        center_of_mass_energy=center_of_mass_energy, lepton_filter_pt=lepton_filter_pt,
        isolation_cone=isolation_cone, isolation_max=isolation_max, jet_radius=jet_radius,
        jet_pt_min=jet_pt_min, jet_eta_max=jet_eta_max, calorimeter_eta_max=calorimeter_eta_max,
        lepton_pt_resolution=lepton_pt_resolution, jet_energy_resolution=jet_energy_resolution,
        angular_resolution=angular_resolution, pythia_settings=pythia_settings,
        max_tries=max_tries,
    ):
        events.append(chunk)
        infos.append(info)
    events = np.concatenate(events) if events else np.zeros((0, ADC2021.n_slots, 4), "f4")
    if not return_info:
        return events
    return events, _combine_info(process, n_events, infos)


def iter_simulated_events(process, n_events, *, random_state=None, n_jobs=None, chunk_size=500,
                          pythia_settings=(), max_tries=1000, **detector):
    """Generate events chunk by chunk, for files larger than memory.

    Takes the parameters of :func:`simulate_events` and yields its result in order, one chunk
    at a time; concatenated, the chunks equal ``simulate_events(...)`` with the same arguments.

    Parameters
    ----------
    process : str
        A key of :data:`PROCESSES`.
    n_events : int
        Number of kept events in all chunks together.
    random_state : int, RandomState instance or None, default=None
        Seed; see :func:`simulate_events`.
    n_jobs : int, default=None
        Processes generating chunks in parallel; chunks are yielded in order.
    chunk_size : int, default=500
        Kept events per chunk.
    pythia_settings : sequence of str, default=()
        Extra Pythia settings.
    max_tries : int, default=1000
        Generated events allowed per requested event.
    **detector
        The object definitions and resolutions of :func:`simulate_events`.

    Yields
    ------
    events : ndarray of shape (n_chunk, 19, 4), dtype float32
        The next chunk of kept events.
    info : dict
        ``n_generated`` and ``cross_section_pb`` of the chunk.

    Examples
    --------
    >>> from sklearn_aclr.datasets import iter_simulated_events  # doctest: +SKIP
    >>> for events, info in iter_simulated_events("Z_ll", 1000, chunk_size=250,
    ...                                           random_state=0):  # doctest: +SKIP
    ...     print(events.shape, info["n_generated"])
    """
    if process not in PROCESSES:
        raise ValueError(f"Unknown process {process!r}; choose one of {sorted(PROCESSES)}.")
    for name, value in (("n_events", n_events), ("chunk_size", chunk_size),
                        ("max_tries", max_tries)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    if isinstance(pythia_settings, str):
        raise TypeError("pythia_settings must be a sequence of setting strings, not one string.")
    detector = _make_detector(**detector)
    pythia, fastjet = _import_generators()
    del pythia, fastjet  # imported here only to fail early, in the parent process

    sizes = [chunk_size] * (n_events // chunk_size)
    if n_events % chunk_size:
        sizes.append(n_events % chunk_size)
    root = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    seeds = np.random.SeedSequence(root).spawn(len(sizes))
    jobs = (
        delayed(_simulate_chunk)(PROCESSES[process], size, seed, detector,
                                 tuple(pythia_settings), max_tries)
        for size, seed in zip(sizes, seeds)
    )
    yield from Parallel(n_jobs=n_jobs, return_as="generator")(jobs)


def _make_detector(center_of_mass_energy=13000.0, lepton_filter_pt=23.0, isolation_cone=0.3,
                   isolation_max=0.15, jet_radius=0.4, jet_pt_min=15.0, jet_eta_max=4.0,
                   calorimeter_eta_max=5.0, lepton_pt_resolution=0.02,
                   jet_energy_resolution=(0.05, 1.5), angular_resolution=0.01):
    positive = dict(center_of_mass_energy=center_of_mass_energy, isolation_cone=isolation_cone,
                    isolation_max=isolation_max, jet_radius=jet_radius,
                    jet_eta_max=jet_eta_max, calorimeter_eta_max=calorimeter_eta_max)
    non_negative = dict(lepton_filter_pt=lepton_filter_pt, jet_pt_min=jet_pt_min,
                        lepton_pt_resolution=lepton_pt_resolution,
                        angular_resolution=angular_resolution)
    for name, value in positive.items():
        if not isinstance(value, numbers.Real) or not value > 0:
            raise ValueError(f"{name} must be a positive number; got {value!r}.")
    for name, value in non_negative.items():
        if not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number; got {value!r}.")
    resolution = tuple(jet_energy_resolution)
    if len(resolution) != 2 or min(resolution) < 0:
        raise ValueError(
            "jet_energy_resolution must be two non-negative numbers (c, s) of "
            f"sigma = sqrt((c pT)^2 + s^2 pT); got {jet_energy_resolution!r}."
        )
    return _Detector(jet_energy_resolution=resolution, **positive, **non_negative)


def _import_generators():
    try:
        import fastjet
        import pythia8mc
    except ImportError as exc:
        raise ImportError(
            "Simulating events needs Pythia 8 and FastJet: pip install 'sklearn-aclr[sim]' "
            "(pythia8mc==8.317.2 and fastjet)."
        ) from exc
    return pythia8mc, fastjet


def _simulate_chunk(process, n_keep, seed, detector, pythia_settings, max_tries):
    """Generate until ``n_keep`` events pass; runs in a worker process."""
    pythia8mc, fastjet = _import_generators()
    pythia = pythia8mc.Pythia("", False)
    pythia_seed = int(seed.generate_state(1)[0] % 900_000_000) + 1  # Pythia's allowed range
    settings = (
        f"Beams:eCM = {detector.center_of_mass_energy}", "Random:setSeed = on",
        f"Random:seed = {pythia_seed}", "Print:quiet = on", *process.settings, *pythia_settings,
    )
    for setting in settings:
        if not pythia.readString(setting):
            raise ValueError(f"Pythia does not understand the setting {setting!r}.")
    if not pythia.init():
        raise RuntimeError(
            f"Pythia failed to initialise {process.name!r} with settings {list(settings)}."
        )
    rng = np.random.default_rng(seed)
    jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, detector.jet_radius)
    events = np.zeros((n_keep, ADC2021.n_slots, 4), dtype=np.float32)
    n_kept = n_generated = 0
    while n_kept < n_keep:
        if n_generated >= max_tries * n_keep:
            raise RuntimeError(
                f"Only {n_kept} of {n_generated} generated {process.name!r} events passed the "
                f"object selection and the {detector.lepton_filter_pt} GeV lepton filter. "
                "Loosen the cuts (isolation_max, lepton_filter_pt) or raise max_tries."
            )
        n_generated += 1
        if not pythia.next():  # a rare failed event; Pythia already counted it
            continue
        event = _reconstruct(_visible_particles(pythia.event), rng, jet_definition, detector,
                             fastjet)
        if event is not None:
            events[n_kept] = event
            n_kept += 1
    sigma_pb = pythia.infoPython().sigmaGen() * _MB_TO_PB
    return events, {"n_generated": n_generated, "cross_section_pb": sigma_pb}


def _visible_particles(event):
    """(n, 5) array of px, py, pz, E, PDG id of the visible final-state particles."""
    rows = [(p.px(), p.py(), p.pz(), p.e(), p.id()) for p in event if p.isFinal()
            and p.isVisible()]
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def _reconstruct(particles, rng, jet_definition, detector, fastjet):
    """One event in the ADC2021 layout, or None if it fails the lepton filter."""
    px, py, pz, energy, pdg = particles.T
    pt = np.hypot(px, py)
    # Most tau events fail the lepton filter: skip them before clustering. A lepton below this
    # floor would need a 10-sigma upward fluctuation of its smeared pT to pass.
    is_lepton = (np.abs(pdg) == _ELECTRON) | (np.abs(pdg) == _MUON)
    floor = detector.lepton_filter_pt / (1 + 10 * detector.lepton_pt_resolution)
    if not np.any(pt[is_lepton] > floor):
        return None
    abs_eta = np.abs(np.arcsinh(pz / np.where(pt > 0, pt, 1.0)))
    # A muon is a minimum-ionising particle: beyond the muon system nothing sees it, so it goes
    # into MET like a neutrino instead of faking a jet in the calorimeter.
    lost_muon = (np.abs(pdg) == _MUON) & (abs_eta >= ADC2021.object_type("mu").eta_max)
    seen = (pt > 0) & (abs_eta < detector.calorimeter_eta_max) & ~lost_muon
    px, py, pz, energy, pdg, pt = (a[seen] for a in (px, py, pz, energy, pdg, pt))
    eta, phi = np.arcsinh(pz / pt), np.arctan2(py, px)

    isolated = np.zeros(len(pt), dtype=bool)
    objects = {}
    for name, pdg_id in (("ele", _ELECTRON), ("mu", _MUON)):
        kind = ADC2021.object_type(name)
        candidates = np.flatnonzero(
            (np.abs(pdg) == pdg_id) & (pt > 0.5 * kind.pt_min) & (np.abs(eta) < kind.eta_max + 0.1)
        )
        if candidates.size:
            d_eta = eta[candidates, None] - eta[None, :]
            d_phi = _wrap_phi(phi[candidates, None] - phi[None, :])
            in_cone = np.hypot(d_eta, d_phi) < detector.isolation_cone
            cone_pt = in_cone.astype(float) @ pt - pt[candidates]  # minus the lepton itself
            candidates = candidates[cone_pt < detector.isolation_max * pt[candidates]]
        isolated[candidates] = True
        smeared = pt[candidates] * (1 + detector.lepton_pt_resolution
                                    * rng.standard_normal(candidates.size))
        objects[name] = _smear_angles(np.maximum(smeared, 0), eta[candidates], phi[candidates],
                                      rng, detector)
        objects[name + "_true"] = pt[candidates], phi[candidates]

    hadrons = ~isolated
    sequence = fastjet.ClusterSequence(
        [fastjet.PseudoJet(*p) for p in zip(px[hadrons], py[hadrons], pz[hadrons],
                                            energy[hadrons])],
        jet_definition,
    )
    jets = sequence.inclusive_jets(0.5 * detector.jet_pt_min)  # smearing may lift them over
    jet_pt = np.array([j.pt() for j in jets])
    jet_eta = np.array([j.eta() for j in jets])
    jet_phi = np.array([j.phi_std() for j in jets])
    constant, stochastic = detector.jet_energy_resolution
    sigma = np.sqrt((constant * jet_pt) ** 2 + stochastic**2 * jet_pt)
    smeared = np.maximum(jet_pt + sigma * rng.standard_normal(jet_pt.size), 0)
    objects["jet"] = _smear_angles(smeared, jet_eta, jet_phi, rng, detector)
    objects["jet_true"] = jet_pt, jet_phi

    # MET: the visible recoil, with each object's smearing propagated.
    met_x, met_y = -px.sum(), -py.sum()
    for name in ("ele", "mu", "jet"):
        (pt_s, _, phi_s), (pt_t, phi_t) = objects[name], objects[name + "_true"]
        met_x -= np.sum(pt_s * np.cos(phi_s) - pt_t * np.cos(phi_t))
        met_y -= np.sum(pt_s * np.sin(phi_s) - pt_t * np.sin(phi_t))

    event = np.zeros((ADC2021.n_slots, 4), dtype=np.float32)
    event[0] = np.hypot(met_x, met_y), 0.0, np.arctan2(met_y, met_x), 1
    leading_lepton = 0.0
    for name in ("ele", "mu", "jet"):
        kind = ADC2021.object_type(name)
        pt_min, eta_max = ((detector.jet_pt_min, detector.jet_eta_max) if name == "jet"
                           else (kind.pt_min, kind.eta_max))
        pt_s, eta_s, phi_s = objects[name]
        keep = (pt_s > pt_min) & (np.abs(eta_s) < eta_max)
        order = np.argsort(-pt_s[keep], kind="stable")
        slots = ADC2021.slots_of(name)[: order.size]
        chosen = order[: slots.size]
        event[slots, 0] = pt_s[keep][chosen]
        event[slots, 1] = eta_s[keep][chosen]
        event[slots, 2] = phi_s[keep][chosen]
        event[slots, 3] = kind.class_id
        if name != "jet" and chosen.size:
            leading_lepton = max(leading_lepton, pt_s[keep][chosen[0]])
    return event if leading_lepton > detector.lepton_filter_pt else None


def _smear_angles(pt, eta, phi, rng, detector):
    width = detector.angular_resolution
    eta = eta + width * rng.standard_normal(eta.size)
    phi = _wrap_phi(phi + width * rng.standard_normal(phi.size))
    return pt, eta, phi


def _wrap_phi(phi):
    return np.mod(phi + np.pi, 2 * np.pi) - np.pi


def _combine_info(process, n_events, infos):
    """Totals over chunks; each chunk's cross-section estimate weighs by its statistics."""
    n_generated = sum(info["n_generated"] for info in infos)
    weights = [info["n_generated"] for info in infos]
    sigma = float(np.average([info["cross_section_pb"] for info in infos], weights=weights))
    return {"process": process, "n_generated": n_generated,
            "efficiency": n_events / n_generated, "cross_section_pb": sigma}
