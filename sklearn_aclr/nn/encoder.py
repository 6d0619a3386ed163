"""The permutation-invariant Transformer encoder of AnomalyCLR."""

import torch
from torch import nn

__all__ = ["AnomalyCLREncoder", "EventFeaturizer"]


class EventFeaturizer(nn.Module):
    """Raw canonical events to object tokens, object types and the padding mask.

    The same scaling as :class:`~sklearn_aclr.EventScaler`, in torch, so that augmentations act
    on physical quantities and the network sees scaled ones: for collider events log(1 + pT)
    over its typical value per type, eta over the acceptance, phi over pi or as sin/cos.

    Parameters
    ----------
    center : list of list of float
        (n_slots, n_features) values subtracted from the features, from a fitted EventScaler.
    scale : list of list of float
        (n_slots, n_features) divisors.
    collider : bool
        Whether the features are (pt, eta, phi, ...): log-scale pT and encode phi.
    sincos_phi : bool, default=True
        Encode phi as (sin phi, cos phi), collider events only.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import EventFeaturizer
    >>> featurizer = EventFeaturizer(center=[[0.0, 0.0, 0.0]] * 2,
    ...                              scale=[[1.0, 1.0, 3.14159]] * 2, collider=True)
    >>> events = torch.tensor([[[20.0, 0.5, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    >>> tokens, types, pad_mask = featurizer(events)
    >>> tokens.shape, types.tolist(), pad_mask.tolist()
    (torch.Size([1, 2, 4]), [[1, 0]], [[False, True]])
    """

    def __init__(self, *, center, scale, collider, sincos_phi=True):
        super().__init__()
        self.register_buffer("center", torch.as_tensor(center, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.collider = collider
        self.sincos_phi = sincos_phi and collider

    @property
    def n_token_features(self):
        return self.center.shape[1] + int(self.sincos_phi)

    def forward(self, events):  # (B, N, F + 1)
        values, cls = events[..., :-1], events[..., -1]
        pad_mask = cls == 0  # (B, N), True = padding
        if self.collider:
            values = torch.cat([torch.log1p(values[..., :1].clamp(min=0)), values[..., 1:]], -1)
        tokens = (values - self.center) / self.scale  # (B, N, F)
        if self.sincos_phi:
            phi = events[..., 2:3]
            tokens = torch.cat([tokens[..., :2], torch.sin(phi), torch.cos(phi), tokens[..., 3:]],
                               -1)
        tokens = tokens.masked_fill(pad_mask.unsqueeze(-1), 0.0)
        return tokens, cls.long(), pad_mask


class AnomalyCLREncoder(nn.Module):
    """Object tokens to an event representation, invariant under permutations of objects.

    Each object token is embedded linearly and its type embedding is added; a Transformer
    encoder with a key padding mask and no positional encoding lets objects attend to each
    other; a masked sum over objects pools the event; an MLP head maps it to the
    representation. Empty slots never influence the output.

    Parameters
    ----------
    center, scale : list of list of float
        Feature scaling, see :class:`EventFeaturizer`.
    collider : bool
        Whether events carry (pt, eta, phi) kinematics.
    n_types : int
        Number of object types plus one (type 0 is padding).
    sincos_phi : bool, default=True
        Encode phi as (sin phi, cos phi).
    d_model : int, default=64
        Width of tokens inside the Transformer.
    n_heads : int, default=4
        Attention heads; must divide ``d_model``.
    n_layers : int, default=4
        Transformer encoder layers.
    dim_feedforward : int, default=256
        Width of the feed-forward block of each layer.
    dropout : float, default=0.1
        Dropout inside the Transformer layers.
    output_dim : int, default=32
        Width of the representation.
    n_head_layers : int, default=2
        Linear layers of the head (ReLU between them).

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import AnomalyCLREncoder
    >>> encoder = AnomalyCLREncoder(center=[[0.0] * 3] * 19, scale=[[1.0] * 3] * 19,
    ...                             collider=True, n_types=5, d_model=16, output_dim=8)
    >>> events = torch.zeros(3, 19, 4); events[:, 0, 3] = 1
    >>> encoder(events).shape, encoder.pooled(events).shape
    (torch.Size([3, 8]), torch.Size([3, 16]))
    """

    def __init__(
        self, *, center, scale, collider, n_types, sincos_phi=True, d_model=64, n_heads=4,
        n_layers=4, dim_feedforward=256, dropout=0.1, output_dim=32, n_head_layers=2,
    ):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}.")
        self.featurizer = EventFeaturizer(center=center, scale=scale, collider=collider,
                                          sincos_phi=sincos_phi)
        self.embed = nn.Linear(self.featurizer.n_token_features, d_model)
        self.type_embed = nn.Embedding(n_types, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward, dropout, batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        sizes = [d_model] * n_head_layers + [output_dim]
        head = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            head.append(nn.Linear(n_in, n_out))
            if i < n_head_layers - 1:
                head.append(nn.ReLU())
        self.head = nn.Sequential(*head)

    def pooled(self, events):  # (B, N, F + 1) -> (B, d_model)
        tokens, types, pad_mask = self.featurizer(events)
        # An event with every slot empty would make attention undefined; let it attend to its
        # (all-zero) tokens instead, giving one fixed representation for empty events.
        pad_mask = pad_mask & ~pad_mask.all(dim=1, keepdim=True)
        x = self.embed(tokens) + self.type_embed(types)  # (B, N, D)
        x = self.transformer(x, src_key_padding_mask=pad_mask)  # (B, N, D)
        x = self.norm(x).masked_fill(pad_mask.unsqueeze(-1), 0.0)
        return x.sum(dim=1)  # (B, D)

    def forward(self, events):  # (B, N, F + 1) -> (B, output_dim)
        return self.head(self.pooled(events))
