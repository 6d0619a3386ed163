"""Self-supervised anomaly detection for collider events, the scikit-learn way.

An implementation of AnomalyCLR (Dillon, Favaro, Feiden, Modak, Plehn, SciPost Phys. Core 7,
056 (2024), arXiv:2301.04660) as scikit-learn estimators trained through skorch.
"""

from sklearn_aclr._layout import ADC2021, EventLayout, ObjectType
from sklearn_aclr._scorer import AutoEncoderScorer
from sklearn_aclr._transformer import AnomalyCLRTransformer
from sklearn_aclr.preprocessing import EventScaler

__version__ = "0.1.0.dev0"

__all__ = [
    "ADC2021",
    "AnomalyCLRTransformer",
    "AutoEncoderScorer",
    "EventLayout",
    "EventScaler",
    "ObjectType",
    "__version__",
]
