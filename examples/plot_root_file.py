"""
========================
Events from a ROOT file
========================

Analyses keep events in ROOT files (NanoAOD: ``MET_pt``, ``nMuon``, ``Muon_pt``, ...) and
hold them as jagged awkward arrays. :mod:`sklearn_aclr.io` brings them into the fixed ADC2021
layout that the estimators read: :func:`~sklearn_aclr.io.from_awkward` for arrays in memory,
:func:`~sklearn_aclr.io.root_to_hdf5` for files, chunk by chunk, into an HDF5 file that is
then streamed. Both sort objects by pT, fill the 4 electron, 4 muon and 10 jet slots, apply
the ADC2021 acceptance and lepton selection, and count what they dropped.

This example first writes a small NanoAOD-like file from the demo events with uproot (the
``[root]`` extra), with some objects that the ADC2021 acceptance would not keep, then reads it
back the way one reads a real one.
"""

import os
import tempfile

import awkward as ak
import matplotlib.pyplot as plt
import numpy as np
import uproot

from sklearn_aclr import ADC2021, EventScaler
from sklearn_aclr.datasets import load_demo
from sklearn_aclr.io import from_awkward, root_to_hdf5

demo = load_demo()
events = demo.data[demo.target == 0][:3000]
rng = np.random.default_rng(0)


def jagged(slots):
    """The objects of ``slots`` as a jagged record array, as NanoAOD stores them."""
    rows = [event[slots][event[slots, 3] > 0] for event in events]
    fields = {name: ak.Array([row[:, k].tolist() for row in rows])
              for k, name in enumerate(("pt", "eta", "phi"))}
    return ak.zip(fields)


muons = jagged(ADC2021.slots_of("mu"))
# Forward muons up to |eta| = 2.4, as CMS reconstructs them: outside the ADC2021 acceptance.
forward = ak.zip({"pt": ak.Array(rng.uniform(5, 40, (len(events), 1)).tolist()),
                  "eta": ak.Array(rng.choice([-2.3, 2.3], (len(events), 1)).tolist()),
                  "phi": ak.Array(rng.uniform(-np.pi, np.pi, (len(events), 1)).tolist())})
data = {
    "MET_pt": ak.Array(events[:, 0, 0]), "MET_phi": ak.Array(events[:, 0, 2]),
    "Electron": jagged(ADC2021.slots_of("ele")),
    "Muon": ak.concatenate([muons, forward], axis=1),
    "Jet": jagged(ADC2021.slots_of("jet")),
}
path = os.path.join(tempfile.mkdtemp(), "nano.root")
with uproot.recreate(path) as f:
    f.mktree("Events", {key: value.type for key, value in data.items()},
             field_name=lambda outer, inner: f"{outer}_{inner}",
             counter_name=lambda counted: f"n{counted}")
    f["Events"].extend(data)
print(uproot.open(path)["Events"].keys())

# %%
# Jagged arrays in memory: the collections as uproot reads them, zipped into records.
tree = uproot.open(path)["Events"]
arrays = tree.arrays(["MET_pt", "MET_phi", "Muon_pt", "Muon_eta", "Muon_phi"])
result = from_awkward(
    met=ak.zip({"pt": arrays.MET_pt, "phi": arrays.MET_phi}),
    muons=ak.zip({"pt": arrays.Muon_pt, "eta": arrays.Muon_eta, "phi": arrays.Muon_phi}),
)
print(f"{len(result.events)} of {len(result.selected)} events pass the selection (muons "
      f"only here); objects outside the acceptance: {result.n_outside_acceptance}")

# %%
# A whole file, chunk by chunk (NanoAOD branch names by default), into an HDF5 file that the
# estimators stream: memory stays bounded by ``step_size``, whatever the size of the file.
stream = root_to_hdf5(path, path.replace(".root", ".h5"), step_size=1000)
print(f"{len(stream)} events in {stream.path}")
scaler = EventScaler(features="standard", phi_encoding="sincos").fit(stream)
print("standardised features:", scaler.transform(stream).shape)

fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
muons_kept = stream[:][:, ADC2021.slots_of("mu")]
muon_eta = muons_kept[..., 1][muons_kept[..., 3] > 0]
ax.hist(ak.flatten(data["Muon"].eta).to_numpy(), bins=50, histtype="step", label="in the file")
ax.hist(muon_eta, bins=50, histtype="step", label="ADC2021 layout (|eta| < 2.1)")
ax.set(xlabel="muon eta", ylabel="muons")
ax.legend()
plt.show()
