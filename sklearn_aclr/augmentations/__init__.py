"""Batched torch augmentations that build the positive and negative views of AnomalyCLR.

Each augmentation is a picklable callable ``aug(events, *, generator)`` on a tensor of shape
(batch, n_slots, n_features + 1) in canonical layout (for ADC2021 the columns are pT, eta, phi,
class id) that returns a new tensor of the same shape. Physical augmentations give positive
views (same physics), anomalous augmentations negative views (generic departures from the
background). Any callable with this signature can be passed to
:class:`~sklearn_aclr.AnomalyCLRTransformer` beside the built-in names; it must be defined at
module level (not a lambda) so that fitted models pickle.
"""

from sklearn_aclr._layout import get_layout
from sklearn_aclr.augmentations._base import (
    Augmentation,
    Compose,
    OneOf,
    passes_selection,
    slot_table,
    wrap_phi,
)
from sklearn_aclr.augmentations.anomalous import (
    AddInvisible,
    AddObjects,
    CollinearSplit,
    ScalePT,
    ShiftMET,
    SwapMET,
)
from sklearn_aclr.augmentations.generic import JitterValues, ScaleValues
from sklearn_aclr.augmentations.physical import RotatePhi, SmearEtaPhi, SmearJetEnergy

__all__ = [
    "AUGMENTATIONS",
    "AddInvisible",
    "AddObjects",
    "Augmentation",
    "CollinearSplit",
    "Compose",
    "JitterValues",
    "OneOf",
    "RotatePhi",
    "ScalePT",
    "ScaleValues",
    "ShiftMET",
    "SmearEtaPhi",
    "SmearJetEnergy",
    "SwapMET",
    "default_augmentations",
    "make_augmentation",
    "passes_selection",
    "slot_table",
    "wrap_phi",
]

AUGMENTATIONS = {
    "rotate_phi": RotatePhi,
    "smear_eta_phi": SmearEtaPhi,
    "smear_jet_energy": SmearJetEnergy,
    "add_objects": AddObjects,
    "add_invisible": AddInvisible,
    "collinear_split": CollinearSplit,
    "shift_met": ShiftMET,
    "swap_met": SwapMET,
    "scale_pt": ScalePT,
    "jitter_values": JitterValues,
    "scale_values": ScaleValues,
}
"""Built-in augmentations by name."""

_COLLIDER_ONLY = {"rotate_phi", "smear_eta_phi", "smear_jet_energy", "add_objects",
                  "add_invisible", "swap_met", "collinear_split", "shift_met", "scale_pt"}


def default_augmentations(layout):
    """Names of the default (physical, anomalous) augmentations for a layout.

    The paper's sets for collider layouts; a relative jitter and a one-column rescaling for
    anything else.

    Parameters
    ----------
    layout : str or EventLayout
        The layout.

    Returns
    -------
    physical, anomalous : tuple of str
        Names in :data:`AUGMENTATIONS`.

    Examples
    --------
    >>> from sklearn_aclr.augmentations import default_augmentations
    >>> default_augmentations("tabular")
    (('jitter_values',), ('scale_values',))
    """
    if get_layout(layout, n_features=1).is_collider:
        return (
            ("rotate_phi", "smear_eta_phi", "smear_jet_energy"),
            ("add_objects", "collinear_split", "shift_met", "scale_pt"),
        )
    return ("jitter_values",), ("scale_values",)


def make_augmentation(spec, layout):
    """An augmentation from a built-in name or a user callable, checked against the layout.

    Parameters
    ----------
    spec : str or callable
        A key of :data:`AUGMENTATIONS`, or a callable ``aug(events, *, generator)``.
    layout : str or EventLayout
        The layout the events follow; collider augmentations need (pt, eta, phi) features.

    Returns
    -------
    callable

    Examples
    --------
    >>> from sklearn_aclr.augmentations import make_augmentation
    >>> make_augmentation("smear_jet_energy", "adc2021")
    SmearJetEnergy(strength=1.0, constant=0.05, stochastic=1.5, layout='adc2021')
    """
    if callable(spec):
        return spec
    if spec not in AUGMENTATIONS:
        raise ValueError(
            f"Unknown augmentation {spec!r}; expected a callable aug(events, *, generator) or "
            f"one of {sorted(AUGMENTATIONS)}."
        )
    if spec in _COLLIDER_ONLY:
        resolved = get_layout(layout, n_features=1)
        if not resolved.is_collider:
            raise ValueError(
                f"The augmentation {spec!r} needs collider events (pt, eta, phi); the "
                f"{resolved.name!r} layout has none. Use 'jitter_values' and 'scale_values', "
                "or your own callables."
            )
        return AUGMENTATIONS[spec](layout=layout)
    return AUGMENTATIONS[spec]()
