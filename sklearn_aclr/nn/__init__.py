"""Plain torch modules and loss functions."""

from sklearn_aclr.nn.autoencoder import MLPAutoEncoder

__all__ = ["MLPAutoEncoder"]
