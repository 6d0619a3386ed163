"""Self-supervised anomaly detection for collider events, the scikit-learn way.

An implementation of AnomalyCLR (Dillon, Favaro, Feiden, Modak, Plehn, SciPost Phys. Core 7,
056 (2024), arXiv:2301.04660) as scikit-learn estimators trained through skorch.

The estimators are imported on first use (PEP 562), so that ``import sklearn_aclr`` and
modules that need no network, such as :mod:`sklearn_aclr.metrics`, do not load torch.
"""

from sklearn_aclr._layout import ADC2021, EventLayout, ObjectType
from sklearn_aclr._lazy import attach
from sklearn_aclr._version import __version__

# Public name -> module that defines it, imported when the name is first looked up.
_LAZY = {
    "AnomalyCLRTransformer": "sklearn_aclr._transformer",
    "AutoEncoderScorer": "sklearn_aclr._scorer",
    "EventScaler": "sklearn_aclr.preprocessing",
    "SeedEnsemble": "sklearn_aclr._ensemble",
}

__all__ = [
    "ADC2021",
    "AnomalyCLRTransformer",
    "AutoEncoderScorer",
    "EventLayout",
    "EventScaler",
    "ObjectType",
    "SeedEnsemble",
    "__version__",
]


__getattr__, __dir__ = attach(__name__, _LAZY)
