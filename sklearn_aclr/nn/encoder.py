"""The permutation-invariant Transformer encoder of AnomalyCLR."""

import torch
import torch.nn.functional as F
from torch import nn

from sklearn_aclr.preprocessing import scale_objects, standard_objects, turn_to_reference

__all__ = ["AnomalyCLREncoder", "EncoderLayer", "EventFeaturizer"]


class EventFeaturizer(nn.Module):
    """Raw canonical events to object tokens, object types and the padding mask.

    The scaling of :class:`~sklearn_aclr.EventScaler` (the same function,
    :func:`~sklearn_aclr.preprocessing.scale_objects`), in torch on the device, so that
    augmentations act on physical quantities and the network sees scaled ones: for collider
    events log(1 + pT) over its typical value per type, eta over the acceptance, phi over pi or
    as sin/cos.

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
        tokens = scale_objects(events, self.center, self.scale, collider=self.collider,
                               sincos_phi=self.sincos_phi)
        cls = events[..., -1]
        return tokens, cls.long(), cls == 0  # pad mask: True = padding


class EncoderLayer(nn.Module):
    """A pre-norm Transformer encoder layer on packed object tokens.

    The arithmetic of ``nn.TransformerEncoderLayer(norm_first=True)`` with ReLU, but tokens
    are packed: the projections, the feed-forward block and dropout run on the present objects
    only (``(n_tokens, d_model)``), and only attention sees the events as padded blocks of
    ``n_max`` objects, with a key mask. ADC2021 events fill 3 to 8 of their 19 slots, so this
    saves most of the work that padded slots would cost.

    Parameters
    ----------
    d_model : int
        Token width.
    n_heads : int
        Attention heads; must divide ``d_model``.
    dim_feedforward : int
        Width of the feed-forward block.
    dropout : float
        Dropout on the attention weights and after each block, in training.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn.encoder import EncoderLayer
    >>> layer = EncoderLayer(8, 2, 16, 0.0)
    >>> tokens = torch.randn(3, 8)            # event 0 has two objects, event 1 one
    >>> index = torch.tensor([0, 1, 2])       # their places in 2 events x 2 slots
    >>> key_mask = torch.tensor([[True, True], [True, False]]).view(2, 1, 1, 2)
    >>> layer(tokens, index, key_mask).shape
    torch.Size([3, 8])
    """

    def __init__(self, d_model, n_heads, dim_feedforward, dropout):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

    def forward(self, x, index, key_mask):
        """``x``: (T, D) tokens; ``index``: (T,) their places in the padded (B * n_max)
        layout; ``key_mask``: (B, 1, 1, n_max), True where a key is an object (or, additive,
        0 there and -inf elsewhere).

        ``index=None`` takes ``x`` padded already, (B * n_max, D): every slot is computed,
        with fixed shapes and no indexing that depends on the data (the GPU path)."""
        n_events, n_max = key_mask.shape[0], key_mask.shape[-1]
        width = x.shape[-1]
        p = self.dropout if self.training else 0.0
        qkv = self.qkv(self.norm1(x))  # (T, 3D), or (B * n_max, 3D)
        if index is not None:
            qkv = qkv.new_zeros(n_events * n_max, 3 * width).index_copy(0, index, qkv)
        q, k, v = qkv.view(n_events, n_max, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        if key_mask.is_floating_point() and key_mask.dtype != q.dtype:
            key_mask = key_mask.to(q.dtype)  # a bias from elsewhere: fused kernels take q's
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=p)
        attended = attended.transpose(1, 2).reshape(n_events * n_max, width)
        if index is not None:
            attended = attended.index_select(0, index)
        x = x + F.dropout(self.out(attended.view_as(x)), p, self.training)
        hidden = F.dropout(F.relu(self.linear1(self.norm2(x))), p, self.training)
        return x + F.dropout(self.linear2(hidden), p, self.training)


class AnomalyCLREncoder(nn.Module):
    """Object tokens to an event representation, invariant under permutations of objects.

    Each object token is embedded linearly and its type embedding is added; pre-norm
    Transformer encoder layers with a key padding mask and no positional encoding let objects
    attend to each other; a sum over objects pools the event; an MLP head maps it to the
    representation. Empty slots never influence the output: the layers work on the packed
    present objects (see :class:`EncoderLayer`), so their cost follows the number of objects,
    not of slots.

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
    n_layers : int, default=2
        Transformer encoder layers.
    dim_feedforward : int, default=256
        Width of the feed-forward block of each layer.
    dropout : float, default=0.1
        Dropout inside the Transformer layers.
    output_dim : int, default=32
        Width of the representation.
    n_head_layers : int, default=2
        Linear layers of the head (ReLU between them).
    raw_center, raw_scale : list of list of float, default=None
        Statistics of the standardised raw features that :meth:`pooled_and_raw` appends for
        collider events (see :func:`~sklearn_aclr.preprocessing.standard_objects`); for
        other events the columns are standardised with ``center`` and ``scale``.
    raw_reference : list of bool, default=None
        Per slot, whether its objects may set the reference azimuth: if given, :meth:`raw`
        first turns each event so that the hardest of these objects has phi = 0 (see
        :func:`~sklearn_aclr.preprocessing.relative_azimuth`); ``raw_center`` and
        ``raw_scale`` are then statistics of turned events.

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
        n_layers=2, dim_feedforward=256, dropout=0.1, output_dim=32, n_head_layers=2,
        raw_center=None, raw_scale=None, raw_reference=None,
    ):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}.")
        self.collider = collider
        if raw_center is not None:
            self.register_buffer("raw_center", torch.as_tensor(raw_center, dtype=torch.float32))
            self.register_buffer("raw_scale", torch.as_tensor(raw_scale, dtype=torch.float32))
        else:
            self.raw_center = self.raw_scale = None
        if raw_reference is not None:
            self.register_buffer("raw_reference", torch.as_tensor(raw_reference,
                                                                  dtype=torch.bool))
        else:
            self.raw_reference = None
        self.featurizer = EventFeaturizer(center=center, scale=scale, collider=collider,
                                          sincos_phi=sincos_phi)
        self.embed = nn.Linear(self.featurizer.n_token_features, d_model)
        self.type_embed = nn.Embedding(n_types, d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, n_heads, dim_feedforward, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        sizes = [d_model] * n_head_layers + [output_dim]
        head = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            head.append(nn.Linear(n_in, n_out))
            if i < n_head_layers - 1:
                head.append(nn.ReLU())
        self.head = nn.Sequential(*head)

    # Pack the present objects (True), compute every slot with fixed shapes (False), or
    # choose by device ("auto"): packing does a third of the work on typical events but needs
    # the host to read the batch's largest object count; on a GPU, where waiting for the
    # device costs more than computing empty slots, the fixed shapes win.
    packing = "auto"

    def packs(self, events):
        """Whether :meth:`pooled` packs the objects of ``events`` (see ``packing``)."""
        return self.packs_on(events.device)

    def packs_on(self, device):
        """Whether :meth:`pooled` packs the objects of events on ``device``."""
        if self.packing != "auto":
            return bool(self.packing)
        return torch.device(device).type == "cpu"

    def pooled(self, events):  # (B, N, F + 1) -> (B, d_model)
        tokens, types, pad_mask = self.featurizer(events)
        present = ~pad_mask
        if not self.packs(events):
            return self._pooled_padded(tokens, types, present)
        # Pack the objects: event b's k-th object goes to place b * n_max + k of a padded
        # layout just wide enough for the fullest event of the batch.
        counts = present.sum(1)
        n_max = max(int(counts.max()), 1) if len(events) else 1
        slot = present.cumsum(1) - 1
        event = torch.arange(len(events), device=events.device).unsqueeze(1)
        index = (event * n_max + slot)[present]  # (T,)
        key_mask = torch.arange(n_max, device=events.device) < counts.unsqueeze(1)
        # An event with every slot empty has no keys, which would make attention undefined;
        # it has no tokens either, and pools to zero: one fixed representation.
        key_mask = _attention_bias(
            (key_mask | (counts == 0).unsqueeze(1)).view(len(events), 1, 1, n_max))
        x = self.embed(tokens[present]) + self.type_embed(types[present])  # (T, D)
        for layer in self.layers:
            x = layer(x, index, key_mask)
        x = self.norm(x)
        pooled = x.new_zeros(len(events) * n_max, x.shape[1]).index_copy(0, index, x)
        return pooled.view(len(events), n_max, -1).sum(1)  # (B, D)

    def _pooled_padded(self, tokens, types, present):
        """:meth:`pooled` with every slot computed: fixed shapes, no host synchronisation.
        Empty slots are masked as keys and left out of the sum, so the result is the packed
        one (up to rounding)."""
        # An event without objects would have no keys: let it attend to its empty slots; it
        # has no tokens to sum either, and pools to zero as in the packed path.
        n_events, n_slots = present.shape
        keys = present | ~present.any(dim=1, keepdim=True)
        key_mask = _attention_bias(keys.view(n_events, 1, 1, n_slots))
        # Slots flattened to (B * N, D): the linear layers then run as plain matrix products,
        # without the reshapes that a 3-d input costs in each of them, forward and backward.
        x = self.embed(tokens.flatten(0, 1)) + self.type_embed(types.flatten())
        for layer in self.layers:
            x = layer(x, None, key_mask)
        x = self.norm(x).view(n_events, n_slots, -1)
        return (x * present.unsqueeze(-1).to(x.dtype)).sum(1)  # (B, D)

    def raw(self, events):  # (B, N, F + 1) -> (B, N * R)
        """The events' standardised raw features, flattened: for collider events a presence
        flag and standardised log pT, eta, sin phi and cos phi per slot, as
        ``EventScaler(features="standard", phi_encoding="sincos")`` gives them (with
        ``azimuth="relative"`` where the encoder has a ``raw_reference``)."""
        if not self.collider:
            scaled = scale_objects(events, self.featurizer.center, self.featurizer.scale,
                                   collider=False, sincos_phi=False)
        elif self.raw_center is None:
            raise ValueError("This encoder was built without raw_center and raw_scale, the "
                             "statistics of the raw features; it has no raw() output.")
        else:
            if self.raw_reference is not None:
                events = turn_to_reference(events, self.raw_reference)
            scaled = standard_objects(events, self.raw_center, self.raw_scale,
                                      sincos_phi=True)
        return scaled.flatten(1)

    def pooled_and_raw(self, events):  # (B, N, F + 1) -> (B, d_model + N * R)
        """The pooled representation beside the standardised raw features."""
        return torch.cat([self.pooled(events).float(), self.raw(events).float()], dim=1)

    def forward(self, events):  # (B, N, F + 1) -> (B, output_dim)
        return self.head(self.pooled(events))


def _attention_bias(key_mask):
    """The additive form of a boolean key mask (True: a key to attend to): 0 there, -inf
    elsewhere. Attention turns a boolean mask into this in every layer; built once, it is
    shared by all of them, in the dtype the queries have under autocast."""
    device = key_mask.device.type
    dtype = (torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device)
             else torch.get_default_dtype())
    bias = torch.zeros(key_mask.shape, device=key_mask.device, dtype=dtype)
    return bias.masked_fill_(~key_mask, float("-inf"))
