"""Events from where analyses keep them: awkward arrays and ROOT files, into the ADC2021 layout.

Analyses hold events as jagged collections (uproot, coffea): electrons, muons and jets of
variable length per event, MET one record per event. :func:`from_awkward` turns such
collections into the fixed ADC2021 array (slot 0 MET, 1-4 electrons, 5-8 muons, 9-18 jets;
columns pT, eta, phi, class id), sorted by pT, padded and clipped, with the acceptance and the
lepton selection applied and counted. :func:`iter_root` does the same chunk by chunk for ROOT
files read through uproot, and :func:`root_to_hdf5` writes the result to an ADC2021 HDF5 file
that :class:`~sklearn_aclr.datasets.ADC2021Stream` streams into the estimators: training reads
events in random order, which HDF5 serves in one read per batch and ROOT does not.

awkward and uproot come with the ``[root]`` extra and are imported on first use.
"""

import os

import numpy as np
from sklearn.utils import Bunch

from sklearn_aclr._layout import ADC2021, check_events

__all__ = ["NANOAOD_BRANCHES", "from_awkward", "iter_root", "root_to_hdf5"]

# Collection name of from_awkward -> object type of the layout.
_COLLECTIONS = {"electrons": "ele", "muons": "mu", "jets": "jet"}

NANOAOD_BRANCHES = {
    "met": ("MET_pt", "MET_phi"),
    "electrons": ("Electron_pt", "Electron_eta", "Electron_phi"),
    "muons": ("Muon_pt", "Muon_eta", "Muon_phi"),
    "jets": ("Jet_pt", "Jet_eta", "Jet_phi"),
}
"""The CMS NanoAOD branches of each collection: (pT, eta, phi), and (pT, phi) for MET.
Pass a dict of the same form as ``branches`` for other trees."""


def _import(name):
    try:
        return __import__(name)
    except ImportError as exc:
        raise ImportError(
            f"Reading jagged events needs {name}; install it with "
            "pip install 'sklearn-aclr[root]' (awkward and uproot)."
        ) from exc


def _field(collection, name, what):
    try:
        return collection[name]
    except Exception as exc:  # awkward raises its own errors for missing fields
        raise ValueError(
            f"{what} has no field {name!r}; it needs pt, eta and phi (MET: pt and phi). Build "
            f"it with ak.zip({{'pt': ..., 'eta': ..., 'phi': ...}})."
        ) from exc


def from_awkward(*, met, electrons=None, muons=None, jets=None, acceptance=True,
                 selection=True):
    """Jagged collections of objects to events in the ADC2021 layout.

    Each collection is sorted by pT (hardest first) and fills its slots (4 electrons, 4 muons,
    10 jets); objects beyond the slots are clipped, empty slots stay all zero, and the class
    ids are set. With ``acceptance``, objects outside the ADC2021 acceptance or below its
    thresholds are dropped first (electrons ``|eta| < 3``, muons ``|eta| < 2.1``, jets
    ``|eta| < 4``; pT above 3 GeV for leptons, 15 GeV for jets). With ``selection``, only the
    events with an electron or muon above 23 GeV are kept, as in the ADC2021 samples.
    Dropped objects are not added to MET: pass MET as the analysis reconstructed it.

    Parameters
    ----------
    met : record array with fields ``pt`` and ``phi``
        One MET per event: an awkward record array, a dict of arrays or a DataFrame.
    electrons, muons, jets : jagged array of records with fields ``pt``, ``eta``, ``phi``
        The objects of each event (awkward arrays, as uproot and coffea give them; a dict of
        jagged arrays works too). None leaves the slots of that type empty.
    acceptance : bool, default=True
        Drop the objects outside the acceptance or below the thresholds.
    selection : bool, default=True
        Keep only the events that pass the lepton selection.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``events``: ndarray of shape (n_kept, 19, 4), float32, the ADC2021 ``Particles``
        array; ``selected``: boolean mask over the input events, True for those kept (all
        True without ``selection``); ``n_outside_acceptance`` and ``n_clipped``: per
        collection, the number of objects dropped by the acceptance and by the number of
        slots.

    Raises
    ------
    ValueError
        On collections of different lengths, missing fields, or values that the ADC2021
        layout cannot hold (NaN, negative pT, ``|phi| > pi``), naming the first event.

    Examples
    --------
    >>> import awkward as ak
    >>> from sklearn_aclr.io import from_awkward
    >>> met = ak.zip({"pt": [35.0, 12.0], "phi": [0.5, -1.0]})
    >>> muons = ak.zip({"pt": [[12.0, 41.0], [8.0]], "eta": [[0.3, -1.2], [2.5]],
    ...                 "phi": [[1.0, -2.0], [0.1]]})
    >>> jets = ak.zip({"pt": [[60.0, 10.0, 25.0], []], "eta": [[0.1, 1.0, -3.9], []],
    ...                "phi": [[2.0, 0.0, -1.0], []]})
    >>> result = from_awkward(met=met, muons=muons, jets=jets)
    >>> result.events.shape, result.selected.tolist()  # event 1 has no lepton above 23 GeV
    ((1, 19, 4), [True, False])
    >>> result.events[0, 5:7, 0].tolist(), result.events[0, 9:12, 0].tolist()
    ([41.0, 12.0], [60.0, 25.0, 0.0])
    >>> result.n_outside_acceptance  # the muon at eta 2.5 and the 10 GeV jet
    {'electrons': 0, 'muons': 1, 'jets': 1}
    """
    ak = _import("awkward")
    met_pt = np.asarray(_field(met, "pt", "met"), dtype=np.float64)
    met_phi = np.asarray(_field(met, "phi", "met"), dtype=np.float64)
    n = len(met_pt)
    events = np.zeros((n, ADC2021.n_slots, 4), dtype=np.float64)
    events[:, 0] = np.stack([met_pt, np.zeros(n), met_phi, np.ones(n)], axis=1)
    outside, clipped = {}, {}
    given = {"electrons": electrons, "muons": muons, "jets": jets}
    for collection, type_name in _COLLECTIONS.items():
        objects = given[collection]
        outside[collection] = clipped[collection] = 0
        if objects is None:
            continue
        kind = ADC2021.object_type(type_name)
        pt, eta, phi = (ak.Array(_field(objects, f, collection)) for f in ("pt", "eta", "phi"))
        if len(pt) != n:
            raise ValueError(f"{collection} has {len(pt)} events, met has {n}; pass the same "
                             "events in every collection.")
        if acceptance:
            keep = (pt >= kind.pt_min) & (abs(eta) < kind.eta_max)
            outside[collection] = int(ak.sum(~keep))
            pt, eta, phi = pt[keep], eta[keep], phi[keep]
        order = ak.argsort(pt, ascending=False, stable=True)
        slots = ADC2021.slots_of(type_name)
        clipped[collection] = int(ak.sum(np.maximum(ak.num(pt) - len(slots), 0)))
        columns = [_slots(values[order], len(slots)) for values in (pt, eta, phi)]
        present = _slots(ak.ones_like(pt), len(slots)) > 0
        events[:, slots, :3] = np.stack(columns, axis=-1)
        events[:, slots, 3] = np.where(present, kind.class_id, 0)
    selected = _passes_selection(events) if selection else np.ones(n, dtype=bool)
    return Bunch(events=check_events(events[selected]), selected=selected,
                 n_outside_acceptance=outside, n_clipped=clipped)


def _slots(values, n):
    """A jagged array padded with zeros and clipped to ``n`` entries per event: (n_events, n)."""
    ak = _import("awkward")
    return ak.to_numpy(ak.fill_none(ak.pad_none(values, n, clip=True), 0.0)).astype(np.float64)


def _passes_selection(events):
    """Events with an object of the selection's types above its pT threshold."""
    trigger = np.isin(np.asarray(ADC2021.slot_types), ADC2021.trigger_types)
    return (events[:, trigger, 0] > ADC2021.trigger_pt).any(axis=1)


def _zip_branches(arrays, branches):
    """Collections of records from the flat branches that uproot read."""
    ak = _import("awkward")
    met_pt, met_phi = branches["met"]
    collections = {"met": ak.zip({"pt": arrays[met_pt], "phi": arrays[met_phi]})}
    for collection in _COLLECTIONS:
        if branches.get(collection) is not None:
            pt, eta, phi = branches[collection]
            collections[collection] = ak.zip(
                {"pt": arrays[pt], "eta": arrays[eta], "phi": arrays[phi]})
    return collections


def _check_branches(branches):
    branches = dict(NANOAOD_BRANCHES if branches is None else branches)
    unknown = sorted(set(branches) - {"met", *_COLLECTIONS})
    if unknown or "met" not in branches:
        raise ValueError(
            f"branches maps 'met' (required), 'electrons', 'muons' and 'jets' to branch names; "
            f"got the keys {sorted(branches)}. See sklearn_aclr.io.NANOAOD_BRANCHES."
        )
    return branches


def iter_root(files, *, tree="Events", branches=None, step_size="100 MB", acceptance=True,
              selection=True):
    """Read ROOT files chunk by chunk through uproot, as ADC2021 events.

    Parameters
    ----------
    files : str, path-like or list of them
        ROOT files (local paths or URLs that uproot reads).
    tree : str, default="Events"
        The TTree, ``"Events"`` in NanoAOD.
    branches : dict, default=None
        ``{"met": (pt, phi), "electrons": (pt, eta, phi), "muons": ..., "jets": ...}``: the
        branch names of each collection. None means :data:`NANOAOD_BRANCHES`. A collection
        left out keeps its slots empty.
    step_size : int or str, default="100 MB"
        Entries per chunk, or the memory a chunk may take (uproot's ``step_size``).
    acceptance, selection : bool, default=True
        As in :func:`from_awkward`.

    Yields
    ------
    chunk : :class:`~sklearn.utils.Bunch`
        What :func:`from_awkward` returns for the entries of one chunk, plus ``entry_start``
        and ``entry_stop``, the chunk's entries in the files (counted across them).

    Examples
    --------
    See :func:`root_to_hdf5` and the gallery example "Events from a ROOT file".
    """
    uproot = _import("uproot")
    branches = _check_branches(branches)
    names = [name for collection in branches.values() if collection for name in collection]
    paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    start = 0
    for arrays in uproot.iterate([{os.fspath(p): tree} for p in paths], names,
                                 step_size=step_size, library="ak"):
        chunk = from_awkward(**_zip_branches(arrays, branches), acceptance=acceptance,
                             selection=selection)
        chunk.entry_start, chunk.entry_stop = start, start + len(arrays)
        start += len(arrays)
        yield chunk


def root_to_hdf5(files, path, *, tree="Events", branches=None, step_size="100 MB",
                 acceptance=True, selection=True, compression=None):
    """Convert ROOT files to an ADC2021 HDF5 file, chunk by chunk, and stream it.

    Memory stays bounded by ``step_size``; the file appears only when the conversion has
    finished (an interrupted one leaves nothing behind). Its attributes record the source
    files, the tree and the counts of entries read, events kept and objects dropped.

    Parameters
    ----------
    files : str, path-like or list of them
        ROOT files.
    path : str or path-like
        The HDF5 file to write; an existing file is replaced on success.
    tree, branches, step_size, acceptance, selection
        As in :func:`iter_root`.
    compression : {None, "gzip", "lzf"}, default=None
        HDF5 compression.

    Returns
    -------
    stream : ADC2021Stream
        The events of the new file, ready for ``fit``, ``transform`` and scoring.

    Examples
    --------
    >>> import os, tempfile
    >>> import awkward as ak, uproot
    >>> from sklearn_aclr.io import root_to_hdf5
    >>> folder = tempfile.mkdtemp()
    >>> with uproot.recreate(os.path.join(folder, "nano.root")) as f:
    ...     f["Events"] = {"MET_pt": [30.0, 50.0], "MET_phi": [0.1, 2.0],
    ...                    "Muon_pt": ak.Array([[45.0], [10.0, 30.0]]),
    ...                    "Muon_eta": ak.Array([[0.5], [1.0, -0.3]]),
    ...                    "Muon_phi": ak.Array([[-1.0], [0.5, 3.0]])}
    >>> stream = root_to_hdf5(os.path.join(folder, "nano.root"),
    ...                       os.path.join(folder, "events.h5"),
    ...                       branches={"met": ("MET_pt", "MET_phi"),
    ...                                 "muons": ("Muon_pt", "Muon_eta", "Muon_phi")})
    >>> len(stream), stream[1][5:7, 0].tolist()
    (2, [30.0, 10.0])
    """
    from sklearn_aclr.datasets import ADC2021Stream, ADC2021Writer

    paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    totals = {"n_entries": 0, "n_events": 0}
    outside, clipped = {}, {}
    attrs = {"source": [os.fspath(p) for p in paths], "tree": tree}
    with ADC2021Writer(path, attrs=attrs, compression=compression) as writer:
        for chunk in iter_root(paths, tree=tree, branches=branches, step_size=step_size,
                               acceptance=acceptance, selection=selection):
            writer.append(chunk.events)
            totals["n_entries"] = chunk.entry_stop
            totals["n_events"] += len(chunk.events)
            for counts, new in ((outside, chunk.n_outside_acceptance),
                                (clipped, chunk.n_clipped)):
                for key, value in new.items():
                    counts[key] = counts.get(key, 0) + value
        counts = {**totals, **{f"n_outside_acceptance_{k}": v for k, v in outside.items()},
                  **{f"n_clipped_{k}": v for k, v in clipped.items()}}
        for key, value in counts.items():
            writer.set_attribute(key, value)
    return ADC2021Stream(path)
