"""Plain torch modules and loss functions."""

from sklearn_aclr.nn.autoencoder import MLPAutoEncoder
from sklearn_aclr.nn.encoder import AnomalyCLREncoder, EventFeaturizer
from sklearn_aclr.nn.losses import (
    ContrastiveLoss,
    anomclr_batch_loss,
    anomclr_loss,
    anomclr_plus_loss,
    simclr_loss,
)

__all__ = [
    "AnomalyCLREncoder",
    "ContrastiveLoss",
    "EventFeaturizer",
    "MLPAutoEncoder",
    "anomclr_batch_loss",
    "anomclr_loss",
    "anomclr_plus_loss",
    "simclr_loss",
]
