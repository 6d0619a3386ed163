"""Physical augmentations: the positive views, symmetries and resolution effects of the detector.

An event and its physical view should share a representation: the physics did not change.
"""

import math

import torch

from sklearn_aclr.augmentations._base import (
    CLASS,
    ETA,
    PHI,
    PT,
    Augmentation,
    empty_slots,
    slot_table,
    sort_slots,
    uniform,
    wrap_phi,
)

__all__ = ["RotatePhi", "SmearEtaPhi", "SmearJetEnergy"]


class RotatePhi(Augmentation):
    """Rotate the whole event about the beam axis: one angle per event for every object.

    The azimuthal symmetry of the detector: every present object, MET included, is rotated by
    the same angle and phi is wrapped into [-pi, pi). Pairwise delta-phi and every pT are kept.

    Parameters
    ----------
    strength : float, default=1.0
        The angle is uniform in ``[-strength * pi, strength * pi)``; 1 is the full symmetry.
    layout : str or EventLayout, default="adc2021"
        Event layout.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import RotatePhi
    >>> events = torch.zeros(1, 19, 4)
    >>> events[0, 0] = torch.tensor([40.0, 0.0, 3.0, 1.0])   # MET
    >>> events[0, 1] = torch.tensor([30.0, 0.5, -3.0, 2.0])  # an electron
    >>> rotated = RotatePhi()(events, generator=torch.Generator().manual_seed(0))
    >>> dphi = rotated[0, 0, 2] - rotated[0, 1, 2]
    >>> round(float(torch.remainder(dphi, 2 * torch.pi)), 4)  # 6.0 wrapped
    6.0
    """

    def __init__(self, strength=1.0, layout="adc2021"):
        self.strength = strength
        self.layout = layout

    def __call__(self, events, *, generator):
        present = events[..., CLASS] != 0
        angle = uniform((len(events), 1), -math.pi, math.pi, generator=generator, like=events)
        out = events.clone()
        rotated = wrap_phi(events[..., PHI] + self.strength * angle)
        out[..., PHI] = torch.where(present, rotated, events[..., PHI])
        return out


class SmearEtaPhi(Augmentation):
    """Smear eta and phi of leptons and jets with a width that falls with pT.

    ``eta' ~ N(eta, s)`` and ``phi' ~ N(phi, s)`` with ``s = strength * scale / pT``: soft
    objects are measured less precisely in angle. Objects pushed out of their acceptance
    (``|eta| >= eta_max``) are removed and their slot emptied; phi is wrapped into [-pi, pi).
    MET has no eta and keeps its phi.

    Parameters
    ----------
    strength : float, default=1.0
        Multiplies the width.
    scale : float, default=0.1
        Width times pT, in GeV: 0.1 gives 0.033 at 3 GeV and 0.002 at 50 GeV.
    layout : str or EventLayout, default="adc2021"
        Event layout, for the acceptance.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import SmearEtaPhi
    >>> events = torch.zeros(1000, 19, 4); events[:, 0, 3] = 1
    >>> events[:, 1] = torch.tensor([3.0, 2.99, 0.0, 2.0])  # soft electrons at the edge
    >>> smeared = SmearEtaPhi()(events, generator=torch.Generator().manual_seed(0))
    >>> kept = smeared[:, 1, 3] > 0
    >>> round(1 - float(kept.float().mean()), 1)  # removed: P(N(0, 0.033) > 0.01) = 0.38
    0.4
    >>> bool((smeared[kept, 1, 1].abs() < 3.0).all())
    True
    """

    def __init__(self, strength=1.0, scale=0.1, layout="adc2021"):
        self.strength = strength
        self.scale = scale
        self.layout = layout

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        smeared = (events[..., CLASS] != 0) & ~table.is_type("met")
        width = self.strength * self.scale / events[..., PT].clamp(min=1e-3)
        noise = torch.randn(events.shape[:2] + (2,), generator=generator, device=events.device,
                            dtype=events.dtype)
        out = events.clone()
        eta = events[..., ETA] + width * noise[..., 0]
        phi = wrap_phi(events[..., PHI] + width * noise[..., 1])
        out[..., ETA] = torch.where(smeared, eta, events[..., ETA])
        out[..., PHI] = torch.where(smeared, phi, events[..., PHI])
        inside = out[..., ETA].abs() < table.eta_max
        return sort_slots(empty_slots(out, inside | ~smeared), table)


class SmearJetEnergy(Augmentation):
    """Smear jet pT with the jet energy resolution, ``sigma = sqrt(0.052 pT^2 + 1.502 pT)`` GeV.

    ``pT' ~ N(pT, strength * sigma)``. Jets pushed below the jet threshold (15 GeV for
    ADC2021) are removed and their slots emptied; the remaining jets are re-ordered by pT.

    Parameters
    ----------
    strength : float, default=1.0
        Multiplies the resolution; 1 is the resolution quoted in the paper.
    layout : str or EventLayout, default="adc2021"
        Event layout, for the jet slots and threshold.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import SmearJetEnergy
    >>> events = torch.zeros(10_000, 19, 4); events[:, 0, 3] = 1
    >>> events[:, 9] = torch.tensor([100.0, 0.0, 0.0, 4.0])
    >>> jet = SmearJetEnergy()(events, generator=torch.Generator().manual_seed(0))[:, 9]
    >>> round(float(jet[jet[:, 3] > 0, 0].std()))  # sqrt(0.052 * 100^2 + 1.502 * 100) GeV
    26
    """

    def __init__(self, strength=1.0, layout="adc2021"):
        self.strength = strength
        self.layout = layout

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        jets = (events[..., CLASS] != 0) & table.is_type("jet")
        pt = events[..., PT]
        sigma = torch.sqrt(0.052 * pt**2 + 1.502 * pt)
        noise = torch.randn(pt.shape, generator=generator, device=pt.device, dtype=pt.dtype)
        out = events.clone()
        out[..., PT] = torch.where(jets, pt + self.strength * sigma * noise, pt)
        kept = ~jets | (out[..., PT] >= table.pt_min)
        return sort_slots(empty_slots(out, kept), table)
