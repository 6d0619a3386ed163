"""A straightforward port of the published AnomalyCLR training approach, as a speed baseline.

It follows the structure of the authors' public code (github.com/bmdillon/AnomalyCLR), written
anew here: augmentations are numpy functions run on the host for every batch (adding objects
loops over events in Python), phi becomes sin/cos and the class id a one-hot vector in numpy,
and the encoder is a sequence-first ``nn.TransformerEncoder`` that takes an additive float
attention mask of shape (batch * heads, n_slots, n_slots). The physics is this package's
(phi wrapped by 2 pi, the same smearing widths and thresholds), so that both sides do the same
work; only the engineering differs. Not part of the package: used by training_throughput.py.
"""

import numpy as np
import torch
from torch import nn

N_SLOTS = 19
TYPE_SLOTS = {2: slice(1, 5), 3: slice(5, 9), 4: slice(9, 19)}  # electrons, muons, jets
ETA_MAX = {2: 3.0, 3: 2.1, 4: 4.0}
PT_MIN = {2: 3.0, 3: 3.0, 4: 15.0}


def _wrap(phi):
    return np.remainder(phi + np.pi, 2 * np.pi) - np.pi


def _drop(events, slots, keep):
    block = events[:, slots]
    block[~keep] = 0.0
    events[:, slots] = block


def rotate(events, rng):
    out = events.copy()
    present = out[..., 3] != 0
    angle = rng.uniform(-np.pi, np.pi, size=(len(out), 1))
    out[..., 2] = np.where(present, _wrap(out[..., 2] + angle), out[..., 2])
    return out


def smear_eta_phi(events, rng):
    out = events.copy()
    for cls, slots in TYPE_SLOTS.items():
        block = out[:, slots]
        present = block[..., 3] != 0
        width = 0.1 / np.maximum(block[..., 0], 1e-3)
        block[..., 1] += np.where(present, width * rng.standard_normal(present.shape), 0.0)
        block[..., 2] = np.where(present, _wrap(block[..., 2] + width *
                                                rng.standard_normal(present.shape)),
                                 block[..., 2])
        out[:, slots] = block
        _drop(out, slots, ~present | (np.abs(out[:, slots, 1]) < ETA_MAX[cls]))
    return out


def smear_jet_energy(events, rng):
    out = events.copy()
    jets = out[:, TYPE_SLOTS[4]]
    present = jets[..., 3] != 0
    sigma = np.sqrt(0.052 * jets[..., 0] ** 2 + 1.502 * jets[..., 0])
    jets[..., 0] += np.where(present, sigma * rng.standard_normal(present.shape), 0.0)
    out[:, TYPE_SLOTS[4]] = jets
    _drop(out, TYPE_SLOTS[4], ~present | (out[:, TYPE_SLOTS[4], 0] >= PT_MIN[4]))
    return out


def add_objects(events, rng):
    out = events.copy()
    max_pt = out[..., 0].max(axis=1)
    for n in range(len(out)):  # one event at a time, as in the published code
        for cls, slots in TYPE_SLOTS.items():
            first = slots.start + int((out[n, slots, 3] != 0).sum())
            k = rng.integers(0, slots.stop - first + 1)
            if k == 0:
                continue
            pt = PT_MIN[cls] + (max(max_pt[n], PT_MIN[cls]) - PT_MIN[cls]) * rng.random(k)
            eta = rng.uniform(-ETA_MAX[cls], ETA_MAX[cls], k)
            phi = rng.uniform(-np.pi, np.pi, k)
            out[n, first : first + k] = np.stack([pt, eta, phi, np.full(k, cls)], axis=1)
            # MET balances the added transverse momentum
            met_x = out[n, 0, 0] * np.cos(out[n, 0, 2]) - np.sum(pt * np.cos(phi))
            met_y = out[n, 0, 0] * np.sin(out[n, 0, 2]) - np.sum(pt * np.sin(phi))
            out[n, 0, 0], out[n, 0, 2] = np.hypot(met_x, met_y), np.arctan2(met_y, met_x)
    return out


def collinear_split(events, rng):
    out = events.copy()
    for slots in TYPE_SLOTS.values():
        block = out[:, slots]
        present = block[..., 3] != 0
        n_present = present.sum(1)
        # split the leading object of the type into the first free slot, keeping total pT
        can = (n_present > 0) & (n_present < block.shape[1])
        rows = np.nonzero(can)[0]
        free = n_present[rows]
        fraction = rng.uniform(0.1, 0.9, len(rows))
        block[rows, free] = block[rows, 0]
        block[rows, free, 0] = (1 - fraction) * block[rows, 0, 0]
        block[rows, 0, 0] *= fraction
        out[:, slots] = block
    return out


def shift_met(events, rng):
    out = events.copy()
    out[:, 0, 0] *= _factor(len(out), rng)
    return out


def scale_pt(events, rng):
    out = events.copy()
    out[..., 0] *= _factor(len(out), rng)[:, None]
    return out


def _factor(n, rng):
    log_f = rng.uniform(np.log(1.5), np.log(3.0), n)
    return np.exp(np.where(rng.random(n) < 0.5, -log_f, log_f))


PHYSICAL = (rotate, smear_eta_phi, smear_jet_energy)
ANOMALOUS = (add_objects, collinear_split, shift_met, scale_pt)


def physical_view(events, rng):
    for augmentation in PHYSICAL:
        events = augmentation(events, rng)
    return events


def anomalous_view(events, rng, augmentations=ANOMALOUS):
    choice = rng.integers(len(augmentations), size=len(events))
    out = events.copy()
    for k, augmentation in enumerate(augmentations):
        chosen = choice == k
        if chosen.any():
            out[chosen] = augmentation(events[chosen], rng)
    return out


def features(events):
    """(B, 19, 4) events to (B, 19, 8) inputs: log pT, eta, sin phi, cos phi, one-hot type."""
    cls = events[..., 3].astype(int)
    one_hot = np.eye(5)[cls][..., 1:]
    present = (cls != 0)[..., None]
    phi = events[..., 2]
    x = np.concatenate([np.log1p(np.maximum(events[..., :1], 0)), events[..., 1:2] / 4,
                        np.sin(phi)[..., None], np.cos(phi)[..., None], one_hot], -1)
    return (x * present).astype(np.float32)


class SeqFirstTransformer(nn.Module):
    """The published encoder's structure: sequence-first, float mask of (B * heads, N, N)."""

    def __init__(self, input_dim=8, d_model=64, n_heads=4, n_layers=4, dim_feedforward=256,
                 output_dim=32, n_head_layers=2, dropout=0.1):
        super().__init__()
        self.n_heads = n_heads
        self.embedding = nn.Linear(input_dim, d_model)
        self.transformer = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward, dropout), n_layers,
            enable_nested_tensor=False,
        )
        sizes = [d_model] * n_head_layers + [output_dim]
        self.head_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def make_mask(self, empty):  # (B, N) bool -> (B * heads, N, N) float, -inf on empty keys
        n = empty.shape[1]
        keys = torch.repeat_interleave(empty, self.n_heads, dim=0)
        keys = torch.repeat_interleave(keys[:, None], n, dim=1)
        mask = torch.zeros(keys.shape, device=empty.device)
        mask[keys] = -np.inf
        return mask

    def forward(self, x):  # (B, N, F)
        empty = x[..., 4:].sum(-1) == 0
        mask = self.make_mask(empty)
        h = self.embedding(x.transpose(0, 1))  # (N, B, D)
        h = self.transformer(h, mask=mask)
        h = h.masked_fill(empty.T.unsqueeze(-1), 0.0).sum(0)  # (B, D)
        for i, layer in enumerate(self.head_layers):
            h = layer(h if i == 0 else torch.relu(h))
        return h
