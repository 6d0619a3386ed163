"""
======================
Reading ADC2021 files
======================

The CMS ADC2021 samples are HDF5 files with a ``Particles`` dataset of shape (N, 19, 4).
:func:`~sklearn_aclr.datasets.fetch_adc2021` downloads them once from Zenodo, verifies their
checksums and returns the cached path::

    from sklearn_aclr.datasets import fetch_adc2021
    path = fetch_adc2021("background")          # about 4 million events
    signal_path = fetch_adc2021("Ato4l")

This example runs without a network: it writes the demo events to a file in the same layout
(:func:`~sklearn_aclr.datasets.write_adc2021`), then reads it the way one reads the real
samples: a slice with :func:`~sklearn_aclr.datasets.load_adc2021`, and the whole file as a
stream that estimators fit on without loading it.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

from sklearn_aclr import ADC2021, EventScaler
from sklearn_aclr.datasets import ADC2021Stream, load_adc2021, load_demo, write_adc2021

demo = load_demo()
path = os.path.join(tempfile.mkdtemp(), "background_for_training.h5")
write_adc2021(path, demo.data[demo.target == 0])

# %%
# Read 5,000 events from event 1,000 on: only that slice is read from disk.
events = load_adc2021(path, start=1000, n_events=5000)
print(events.shape, events.dtype)
print("first event, non-empty slots (pT, eta, phi, class):")
print(events[0][events[0, :, 3] != 0].round(2))

# %%
# Object multiplicities and pT spectra per type.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), constrained_layout=True)
for name in ("ele", "mu", "jet"):
    slots = ADC2021.slots_of(name)
    present = events[:, slots, 3] != 0
    counts = np.bincount(present.sum(axis=1), minlength=len(slots) + 1)
    axes[0].plot(counts / len(events), marker="o", label=name)
    axes[1].hist(events[:, slots, 0][present], bins=np.geomspace(3, 1000, 40),
                 histtype="step", label=name)
axes[1].hist(events[:, 0, 0], bins=np.geomspace(3, 1000, 40), histtype="step", label="MET")
axes[0].set(xlabel="objects per event", ylabel="fraction of events")
axes[1].set(xscale="log", yscale="log", xlabel="pT [GeV]", ylabel="objects")
axes[0].legend()
axes[1].legend()

# %%
# A file larger than memory: fit on a stream, read batch by batch.
stream = ADC2021Stream(path)
scaler = EventScaler().fit(stream)
pt_scale = {name: round(float(scaler.scale_[ADC2021.slots_of(name)[0], 0]), 2)
            for name in ("met", "ele", "mu", "jet")}
print(f"{len(stream)} events streamed; mean log(1 + pT) per type: {pt_scale}")
plt.show()
