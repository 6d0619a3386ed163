"""
======================================
Looking at the learned representations
======================================

What did the encoder learn? Two views of the representation space of a small AnomalyCLR
encoder trained on the demo background:

1. how close an event stays to its physical view (rotated and smeared) and to its anomalous
   view (objects added, split, rescaled), measured by the cosine similarity the loss uses;
2. a two-dimensional PCA projection of background and signal events.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.decomposition import PCA

from sklearn_aclr import AnomalyCLRTransformer
from sklearn_aclr.augmentations import Compose, OneOf, default_augmentations, make_augmentation
from sklearn_aclr.datasets import load_demo

demo = load_demo()
background = demo.data[demo.target == 0]
encoder = AnomalyCLRTransformer(d_model=32, n_layers=2, dim_feedforward=64, max_epochs=4,
                                random_state=0).fit(background[:6000])

# %%
# Cosine similarity of held-out events to their views. Training pulls physical views close
# (near 1) and pushes anomalous views away.
physical_names, anomalous_names = default_augmentations("adc2021")
physical = Compose([make_augmentation(name, "adc2021") for name in physical_names])
anomalous = OneOf([make_augmentation(name, "adc2021") for name in anomalous_names])
events = torch.as_tensor(background[8000:10000])
generator = torch.Generator().manual_seed(0)


def normalised(X):
    z = encoder.transform(X)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


z = normalised(events.numpy())
similarity = {
    "physical view": np.sum(z * normalised(physical(events, generator=generator).numpy()), 1),
    "anomalous view": np.sum(z * normalised(anomalous(events, generator=generator).numpy()), 1),
}
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, values in similarity.items():
    ax.hist(values, bins=50, range=(-1, 1), histtype="step", density=True, label=name)
    print(f"{name}: median cosine similarity {np.median(values):.3f}")
ax.set(xlabel="cos(z, z_view)", ylabel="density")
ax.legend()

# %%
# PCA of the representations: signals populate other regions than the background.
names = ["background", *demo.signal_names]
samples = [background[8000:10000]] + [demo.data[demo.process == s] for s in demo.signal_names]
pca = PCA(n_components=2).fit(encoder.transform(samples[0]))
fig, ax = plt.subplots(figsize=(5, 4.5))
for name, X in zip(names, samples):
    projected = pca.transform(encoder.transform(X))
    ax.scatter(*projected[:500].T, s=3, alpha=0.5, label=name)
ax.set(xlabel="PC 1", ylabel="PC 2", title="AnomalyCLR representations")
ax.legend(markerscale=4, fontsize="small")
plt.show()
