"""
=======================================
Writing a custom anomalous augmentation
=======================================

An anomalous augmentation is any callable ``aug(events, *, generator)`` that takes a batch of
events as a torch tensor of shape (batch, 19, 4) (pT, eta, phi, class id; empty slots all
zero) and returns a new tensor of the same shape, drawing all randomness from ``generator``.
Define it at module level, so that fitted models pickle.

Here: ``TwistMET`` turns the missing transverse momentum by a random angle between 90 and 270
degrees. The visible objects stay as they are, so the event no longer balances: a generic
kind of anomaly, not a model of any particular signal.
"""

import math

import numpy as np
import torch

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer
from sklearn_aclr.augmentations import Augmentation, wrap_phi
from sklearn_aclr.datasets import load_demo
from sklearn_aclr.metrics import anomaly_roc_auc


class TwistMET(Augmentation):
    """Rotate MET (slot 0) by an angle drawn uniformly from ``angle_range`` (radians)."""

    def __init__(self, angle_range=(math.pi / 2, 3 * math.pi / 2)):
        self.angle_range = angle_range

    def __call__(self, events, *, generator):
        low, high = self.angle_range
        angle = low + (high - low) * torch.rand(len(events), generator=generator,
                                                device=events.device, dtype=events.dtype)
        out = events.clone()
        out[:, 0, 2] = wrap_phi(events[:, 0, 2] + angle)
        return out


# %%
# It behaves like the built-in ones: same generator state, same view.
demo = load_demo()
events = torch.as_tensor(demo.data[:3])
view = TwistMET()(events, generator=torch.Generator().manual_seed(0))
print("MET phi before:", events[:, 0, 2].numpy().round(2), "after:", view[:, 0, 2].numpy().round(2))

# %%
# Train a small encoder with it next to ``add_objects``, and one with ``add_objects`` alone.
background = demo.data[demo.target == 0]
train, test = background[:4000], background[8000:]
small = dict(d_model=32, n_layers=2, dim_feedforward=64, max_epochs=3, random_state=0)
encoders = {
    "add_objects": AnomalyCLRTransformer(anomalous=["add_objects"], **small),
    "add_objects + TwistMET": AnomalyCLRTransformer(anomalous=["add_objects", TwistMET()],
                                                    **small),
}
for name, encoder in encoders.items():
    encoder.fit(train)
    scorer = AutoEncoderScorer(max_epochs=40, random_state=0).fit(encoder.transform(train))
    bkg = scorer.anomaly_score(encoder.transform(test))
    aucs = []
    for signal in demo.signal_names:
        sig = scorer.anomaly_score(encoder.transform(demo.data[demo.process == signal]))
        y = np.r_[np.zeros(len(bkg)), np.ones(len(sig))]
        aucs.append(f"{signal} {anomaly_roc_auc(y, np.r_[bkg, sig]):.3f}")
    print(f"{name:>24}: " + ", ".join(aucs))
