"""A fully connected autoencoder: the anomaly scorer of the paper and its raw-data baseline."""

from torch import nn

__all__ = ["MLPAutoEncoder"]


def _mlp(sizes, negative_slope):
    """Linear layers between consecutive ``sizes``, LeakyReLU between them, none at the end."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope))
    return nn.Sequential(*layers)


class MLPAutoEncoder(nn.Module):
    """Mirrored MLP autoencoder: ``n_features -> hidden -> latent_dim -> hidden -> n_features``.

    The default sizes follow the paper's raw-data baseline, 57-256-128-64-32-16-5 and back.

    Parameters
    ----------
    n_features : int
        Input and output width.
    hidden_layer_sizes : tuple of int, default=(256, 128, 64, 32, 16)
        Encoder widths; the decoder mirrors them.
    latent_dim : int, default=5
        Width of the bottleneck.
    negative_slope : float, default=0.01
        Slope of the LeakyReLU activations for negative inputs.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import MLPAutoEncoder
    >>> MLPAutoEncoder(n_features=57)(torch.zeros(4, 57)).shape
    torch.Size([4, 57])
    """

    def __init__(
        self, *, n_features, hidden_layer_sizes=(256, 128, 64, 32, 16), latent_dim=5,
        negative_slope=0.01,
    ):
        super().__init__()
        sizes = [n_features, *hidden_layer_sizes, latent_dim]
        self.encoder = _mlp(sizes, negative_slope)
        self.decoder = _mlp(sizes[::-1], negative_slope)  # the latent code itself is linear

    def forward(self, x):  # (B, F) -> (B, F)
        return self.decoder(self.encoder(x))
