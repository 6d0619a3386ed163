"""Views that the benchmarks try before any of them earns a place in the package.

They live in a module of their own, not in the script that uses them: encoders that the
ablation caches (pickles) refer to their views by module, and a class defined in a script
run as ``__main__`` could not be loaded again by another script (``probe.py``).
"""

import math

import torch

from sklearn_aclr.augmentations import Augmentation

PHI, CLASS = 2, 3  # columns of an event's objects
MET_SLOT = 0  # ADC2021


class TurnMET(Augmentation):
    """A negative view: MET turned alone, by an angle between ``min_angle`` and pi in either
    sense, its size and every visible object kept.

    What changes is only the azimuth between MET and the visible objects, the part of the
    transverse mass that training does not teach the encoder (``probe.py``); ``ShiftMET``
    changes MET's size, ``SwapMET`` its size and direction together. The visible objects are
    untouched, so the view passes the selection whenever the event does.
    """

    def __init__(self, min_angle=math.pi / 3):
        self.min_angle = min_angle

    def __call__(self, events, *, generator):
        n = len(events)
        u = torch.rand(n, generator=generator, device=events.device, dtype=events.dtype)
        sign = torch.where(torch.rand(n, generator=generator, device=events.device) < 0.5,
                           -1.0, 1.0).to(events.dtype)
        angle = sign * (self.min_angle + (math.pi - self.min_angle) * u)
        out = events.clone()
        met = out[:, MET_SLOT]
        turned = torch.remainder(met[:, PHI] + angle + math.pi, 2 * math.pi) - math.pi
        met[:, PHI] = torch.where(met[:, CLASS] != 0, turned, met[:, PHI])
        return out

