"""Generic augmentations for layouts without collider kinematics (such as ``"tabular"``)."""

import torch

from sklearn_aclr.augmentations._base import CLASS, Augmentation, log_uniform_factor

__all__ = ["JitterValues", "ScaleValues"]


class JitterValues(Augmentation):
    """Positive view: multiply every feature of every present object by ``1 + strength * N(0, 1)``.

    A small relative noise, the generic stand-in for a detector resolution.

    Parameters
    ----------
    strength : float, default=0.05
        Relative width of the noise.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import JitterValues
    >>> events = torch.ones(1000, 3, 2)  # tabular: one value and the class id per column
    >>> out = JitterValues(strength=0.1)(events, generator=torch.Generator().manual_seed(0))
    >>> round(float(out[..., 0].std()), 1), bool((out[..., 1] == 1).all())
    (0.1, True)
    """

    def __init__(self, strength=0.05):
        self.strength = strength

    def __call__(self, events, *, generator):
        noise = torch.randn(events.shape[:2] + (events.shape[2] - 1,), generator=generator,
                            device=events.device, dtype=events.dtype)
        present = (events[..., CLASS] != 0).unsqueeze(-1)
        out = events.clone()
        out[..., :CLASS] = torch.where(present, events[..., :CLASS] * (1 + self.strength * noise),
                                       events[..., :CLASS])
        return out


class ScaleValues(Augmentation):
    """Negative view: rescale the features of one random object (column) per event.

    The factor is drawn as in :class:`~sklearn_aclr.augmentations.ShiftMET`: between
    ``factor_range[0]`` and ``[1]``, up or down.

    Parameters
    ----------
    factor_range : tuple of float, default=(1.5, 3.0)
        Smallest and largest factor.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import ScaleValues
    >>> events = torch.ones(4, 3, 2)
    >>> out = ScaleValues()(events, generator=torch.Generator().manual_seed(0))
    >>> (out[..., 0] != 1).sum(dim=1).tolist()  # one column per event
    [1, 1, 1, 1]
    """

    def __init__(self, factor_range=(1.5, 3.0)):
        self.factor_range = factor_range

    def __call__(self, events, *, generator):
        batch, n_slots = events.shape[:2]
        slot = torch.randint(n_slots, (batch, 1), generator=generator, device=events.device)
        factor = log_uniform_factor((batch, 1), self.factor_range, generator=generator,
                                    like=events)
        chosen = torch.arange(n_slots, device=events.device) == slot  # (B, n_slots)
        scale = torch.where(chosen, factor, torch.ones_like(factor)).unsqueeze(-1)
        out = events.clone()
        out[..., :CLASS] = events[..., :CLASS] * scale
        return out
