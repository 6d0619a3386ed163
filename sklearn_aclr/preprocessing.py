"""Scaling of events into the flat feature vector that the raw-data baseline reads."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from sklearn_aclr._docs import DocLinkMixin, fill_doc
from sklearn_aclr._layout import EventLayout
from sklearn_aclr._sources import iter_blocks
from sklearn_aclr._validation import validate_events

__all__ = ["EventScaler", "reference_slots", "relative_azimuth", "scale_objects",
           "standard_objects", "turn_to_reference"]


@fill_doc
class EventScaler(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Scale collider events into a flat vector, one block of features per slot.

    For collider layouts every object becomes ``(pt, eta, phi)`` (or ``(pt, eta, sin phi,
    cos phi)``) with

    - ``pt``: ``log(1 + pT / GeV)`` divided by its mean over the objects of the same type (MET,
      electrons, muons, jets) present in the training events, so a typical object maps to 1;
    - ``eta``: ``eta / eta_max`` of the object type, so the acceptance maps onto ``[-1, 1]``;
    - ``phi``: ``phi / pi`` in ``[-1, 1]``, or ``sin phi`` and ``cos phi``.

    An empty slot maps to 0 in every feature. Real objects pass pT thresholds of several GeV,
    so their scaled pT is clearly above 0 and empty slots never look like real objects. This is
    the scaling of the paper's raw-data baseline; it compresses pT (a spread of about 0.14 in
    the scaled units, against 0.6 for phi), so a reconstruction loss on it is dominated by phi.

    ``features="standard"`` gives every feature the same weight instead: per slot, a presence
    flag (1 for an object, 0 for an empty slot) and ``log(1 + pT)``, eta and the phi encoding
    standardised over the objects present in that slot in the training events (empty slots
    stay 0). This is the stronger raw-data input for distance- and reconstruction-based
    detectors. For ``layout="tabular"`` each column is standardised in either case.

    ``azimuth="relative"`` first turns every event about the beam so that its hardest trigger
    object (ADC2021: the leading electron or muon) has phi = 0 (:func:`relative_azimuth`). An
    event's orientation carries no physics; the features then hold only the azimuths between
    objects. On the validation sample of ``benchmarks/`` this makes the raw autoencoder
    stronger on A -> 4l (AUC 0.982 against 0.976) and weaker on h0 -> tau tau and
    h+ -> tau nu; see the documentation's "What works".

    Parameters
    ----------
    %(event_layout)s
    phi_encoding : {"angle", "sincos"}, default="angle"
        ``"angle"`` keeps phi as one feature (57 outputs for ADC2021, as in the paper's
        baseline); ``"sincos"`` uses two, which removes the artificial jump at phi = +-pi.
    features : {"paper", "standard"}, default="paper"
        ``"paper"``: the paper's scaling above. ``"standard"``: presence flags and standardised
        log pT, eta and phi per slot (95 outputs for ADC2021 with ``phi_encoding="sincos"``).
    azimuth : {"absolute", "relative"}, default="absolute"
        ``"absolute"``: phi as measured. ``"relative"``: phi measured from the event's hardest
        trigger object (collider layouts only).

    Attributes
    ----------
    layout_ : EventLayout
        The resolved layout.
    center_ : ndarray of shape (n_slots, n_features)
        Subtracted from each (log-pT, eta, phi) feature; with ``features="standard"`` and
        ``phi_encoding="sincos"`` the features are (log-pT, eta, sin phi, cos phi).
    scale_ : ndarray of shape (n_slots, n_features)
        Divisor of each centred feature.
    %(input_columns)s

    See Also
    --------
    AutoEncoderScorer : The autoencoder that reads the scaled events.
    sklearn.preprocessing.StandardScaler : Plain standardisation of columns.

    Examples
    --------
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> from sklearn_aclr.preprocessing import EventScaler
    >>> X, _ = make_adc_events(200, random_state=0)
    >>> scaler = EventScaler().fit(X)
    >>> scaler.transform(X).shape
    (200, 57)
    >>> scaler.get_feature_names_out()[[0, 3, 56]].tolist()
    ['met_pt', 'ele0_pt', 'jet9_phi']
    """

    _parameter_constraints = {
        "layout": [StrOptions({"adc2021", "tabular"}), EventLayout],
        "phi_encoding": [StrOptions({"angle", "sincos"})],
        "features": [StrOptions({"paper", "standard"})],
        "azimuth": [StrOptions({"absolute", "relative"})],
    }

    def __init__(self, *, layout="adc2021", phi_encoding="angle", features="paper",
                 azimuth="absolute"):
        self.layout = layout
        self.phi_encoding = phi_encoding
        self.features = features
        self.azimuth = azimuth

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the pT scale of each object type (or each column's scale) from X.

        Parameters
        ----------
        X : array-like of shape (n_events, n_slots, n_columns) or (n_events, n_features), \
                or ADC2021Stream
            Training events, usually background only. A stream is read block by block.
        y : None
            Ignored.

        Returns
        -------
        self : EventScaler
            The fitted scaler.
        """
        events, self.layout_ = validate_events(self, X, reset=True)
        if self.azimuth == "relative" and not self.layout_.is_collider:
            raise ValueError(
                f"azimuth='relative' turns collider events about the beam; the layout "
                f"{self.layout_.name!r} has no phi. Use azimuth='absolute' for these data.")
        if self._standard:
            moments = ObjectMoments(self.layout_, sincos_phi=self.phi_encoding == "sincos")
            for block in iter_blocks(events):
                moments.update(self._turned(block))
            self.center_, self.scale_ = moments.result()
        else:  # the paper's scaling does not depend on phi: nothing to turn
            self.center_, self.scale_ = fit_scaling(events, self.layout_)
        return self

    def _turned(self, events):
        """``events`` as the features see them: turned where ``azimuth="relative"``."""
        return relative_azimuth(events, self.layout_) if self.azimuth == "relative" else events

    def __sklearn_is_fitted__(self):
        """Fitted once the scaling is known: a fit whose reading failed leaves none."""
        return hasattr(self, "scale_")

    @property
    def _standard(self):
        return self.features == "standard" and self.layout_.is_collider

    def transform(self, X):
        """Scale events into a flat feature vector.

        Parameters
        ----------
        X : array-like of shape (n_events, n_slots, n_columns) or (n_events, n_features), \
                or ADC2021Stream
            Events in the layout seen in fit.

        Returns
        -------
        X_scaled : ndarray of shape (n_events, n_features_out), dtype float32
            ``n_slots * 3`` features for collider layouts (``n_slots * 4`` with
            ``phi_encoding="sincos"``), ``n_features_in_`` for ``"tabular"``.
        """
        check_is_fitted(self)
        events, _ = validate_events(self, X, reset=False)
        blocks = iter_blocks(events)
        first = self._scale(next(blocks, events[:0]))
        if len(first) == len(events):
            return first
        # A stream: fill the output block by block, never holding its events whole.
        scaled = np.empty((len(events), first.shape[1]), dtype=np.float32)
        scaled[: len(first)] = first
        start = len(first)
        for block in blocks:
            scaled[start : start + len(block)] = self._scale(block)
            start += len(block)
        return scaled

    def _scale(self, events):
        """The scaled features of canonical events, an array of shape (n, n_slots, columns)."""
        events = self._turned(events)
        if self._standard:
            scaled = standard_objects(events.astype(np.float64), self.center_, self.scale_,
                                      sincos_phi=self.phi_encoding == "sincos")
            return scaled.reshape(len(scaled), -1).astype(np.float32)
        scaled = scale_objects(
            events.astype(np.float64), self.center_, self.scale_,
            collider=self.layout_.is_collider, sincos_phi=self.phi_encoding == "sincos",
        )
        return scaled.reshape(len(scaled), -1).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features, such as ``jet3_pt``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only used for ``layout="tabular"``, where output names are input names.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        if not self.layout_.is_collider:
            return _check_feature_names_in(self, input_features)
        names = object_feature_names(self.layout_, sincos_phi=self.phi_encoding == "sincos",
                                     standard=self._standard)
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = self.layout != "tabular"
        # Output is float32 whatever the input, the dtype the torch models train in.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def relative_azimuth(events, layout):
    """``events`` turned about the beam so that the hardest trigger object has phi = 0.

    The reference is the object of highest pT among the slots of the layout's trigger types
    (ADC2021: the electrons and muons), or among all slots where the layout has no selection.
    Every present object, MET included, is turned by the same angle, and phi is wrapped into
    [-pi, pi); empty slots stay all zero, and an event without a reference object is left as
    it is. Azimuths between objects, and so every physics quantity, are unchanged.

    Parameters
    ----------
    events : ndarray of shape (n_events, n_slots, n_features + 1)
        Canonical collider events, the class id last.
    layout : EventLayout
        Their layout: which slots hold trigger objects.

    Returns
    -------
    turned : ndarray of the same shape and dtype

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr import ADC2021
    >>> from sklearn_aclr.preprocessing import relative_azimuth
    >>> event = np.zeros((1, 19, 4))
    >>> event[0, 0] = [40.0, 0.0, -2.0, 1]   # MET
    >>> event[0, 5] = [50.0, 0.5, 1.0, 3]    # the leading muon
    >>> event[0, 9] = [30.0, -1.0, 3.0, 4]   # a jet
    >>> relative_azimuth(event, ADC2021)[0, [0, 5, 9], 2].round(3)
    array([-3.,  0.,  2.])
    """
    return turn_to_reference(events, reference_slots(layout))


def reference_slots(layout):
    """The slots whose objects may set the azimuth of :func:`relative_azimuth`: those of the
    layout's trigger types (ADC2021: electrons and muons), or every slot where the layout
    has no selection.

    Parameters
    ----------
    layout : EventLayout
        The events' layout.

    Returns
    -------
    reference : ndarray of bool, shape (n_slots,)

    Examples
    --------
    >>> from sklearn_aclr import ADC2021
    >>> from sklearn_aclr.preprocessing import reference_slots
    >>> reference_slots(ADC2021).nonzero()[0].tolist()  # electrons 1-4, muons 5-8
    [1, 2, 3, 4, 5, 6, 7, 8]
    """
    if layout.trigger_types:
        return np.isin(np.asarray(layout.slot_types), layout.trigger_types)
    return np.ones(layout.n_slots, dtype=bool)


def turn_to_reference(events, reference):
    """:func:`relative_azimuth` with the reference slots given, for numpy arrays and torch
    tensors alike (the encoder turns events on the device for ``raw_azimuth="relative"``).

    Parameters
    ----------
    events : ndarray or Tensor of shape (n_events, n_slots, 4)
        Canonical collider events: pT, eta, phi, class id.
    reference : ndarray or Tensor of bool, shape (n_slots,)
        From :func:`reference_slots`, of the same kind as ``events``.

    Returns
    -------
    turned : ndarray or Tensor of the same shape and dtype

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.preprocessing import turn_to_reference
    >>> events = torch.tensor([[[40.0, 0.0, -2.0, 1], [50.0, 0.5, 1.0, 2], [0, 0, 0, 0]]])
    >>> turn_to_reference(events, torch.tensor([False, True, True]))[0, :, 2]
    tensor([-3.,  0.,  0.])
    """
    xp = _namespace(events)
    present = events[..., -1] != 0
    candidate = present & reference
    lead = xp.where(candidate, events[..., 0], -np.inf).argmax(axis=1)
    rows = (np.arange(len(events)) if xp is np
            else xp.arange(len(events), device=events.device))
    angle = xp.where(candidate.any(axis=1), events[rows, lead, 2], 0.0)[:, None]
    phi = events[..., 2]
    turned = xp.where(present, xp.remainder(phi - angle + np.pi, 2 * np.pi) - np.pi, phi)
    return xp.concatenate([events[..., :2], turned[..., None], events[..., 3:]], axis=-1)


def object_feature_names(layout, *, sincos_phi, standard):
    """Names of the per-slot features of collider events, such as ``jet3_pt``: the columns of
    :func:`scale_objects` (``standard=False``) or :func:`standard_objects` (``standard=True``,
    a presence flag first), slot by slot."""
    features = list(layout.features)
    if sincos_phi:
        features[2:3] = ["sinphi", "cosphi"]
    if standard:
        features.insert(0, "present")
    return [f"{slot}_{feature}" for slot in layout.slot_names for feature in features]


def scale_objects(events, center, scale, *, collider, sincos_phi):
    """The paper's scaling of every object, for numpy arrays and torch tensors alike.

    The one implementation of the formula that :class:`EventScaler` applies in numpy and the
    encoder's :class:`~sklearn_aclr.nn.EventFeaturizer` applies in torch, on the device: for
    collider events ``log(1 + pT)``, then ``(value - center) / scale`` per slot and feature,
    and phi as ``(sin phi, cos phi)`` if ``sincos_phi``; empty slots are all zero.

    Parameters
    ----------
    events : ndarray or Tensor of shape (..., n_slots, n_features + 1)
        Canonical events, the class id last.
    center, scale : ndarray or Tensor of shape (n_slots, n_features)
        From :func:`fit_scaling`, of the same kind as ``events``.
    collider : bool
        Whether the features are (pt, eta, phi, ...).
    sincos_phi : bool
        Encode phi as two features (collider events only).

    Returns
    -------
    scaled : ndarray or Tensor of shape (..., n_slots, n_features + sincos_phi)

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_aclr.preprocessing import scale_objects
    >>> events = np.array([[[40.0, 1.0, np.pi / 2, 2.0], [0.0, 0.0, 0.0, 0.0]]])
    >>> center, scale = np.zeros((2, 3)), np.array([[4.0, 2.5, np.pi]] * 2)
    >>> scale_objects(events, center, scale, collider=True, sincos_phi=True).round(3)
    array([[[0.928, 0.4  , 1.   , 0.   ],
            [0.   , 0.   , 0.   , 0.   ]]])
    >>> scaled = scale_objects(torch.tensor(events), torch.tensor(center), torch.tensor(scale),
    ...                        collider=True, sincos_phi=True)
    >>> bool(np.allclose(scaled.numpy(), scale_objects(events, center, scale, collider=True,
    ...                                                sincos_phi=True)))
    True
    """
    xp = _namespace(events)
    values = events[..., :-1]
    present = events[..., -1:] != 0
    if collider:
        log_pt = xp.log1p(values[..., :1].clip(min=0))
        values = xp.concatenate([log_pt, values[..., 1:]], axis=-1)
    scaled = (values - center) / scale
    if collider and sincos_phi:
        phi = events[..., 2:3]
        scaled = xp.concatenate([scaled[..., :2], xp.sin(phi), xp.cos(phi), scaled[..., 3:]],
                                axis=-1)
    return scaled * present


def _namespace(x):
    """numpy for arrays, torch for tensors: the functions scale_objects needs exist in both."""
    if isinstance(x, np.ndarray):
        return np
    import torch  # only reached with a tensor, so torch is already loaded

    return torch


def fit_scaling(events, layout, on_block=None):
    """Centre and scale of every (slot, feature) from canonical events; see EventScaler.

    For collider layouts ``events`` may also be an event source, read block by block in one
    pass; ``on_block(block)``, if given, sees every block too (to summarise it in that pass).

    Returns
    -------
    center, scale : ndarray of shape (n_slots, n_features)
    """
    center = np.zeros((layout.n_slots, layout.n_features))
    scale = np.ones((layout.n_slots, layout.n_features))
    if not layout.is_collider:
        if on_block is not None:
            on_block(events)
        values = events[..., :-1].astype(np.float64)
        center[:] = values.mean(axis=0)
        scale[:] = _safe_scale(values.std(axis=0))
        return center, scale
    # pT scale: the mean log(1 + pT) of the present objects of each type.
    types = list(dict.fromkeys(layout.slot_types))
    sums, counts = np.zeros(len(types)), np.zeros(len(types), dtype=np.int64)
    for block in iter_blocks(events):
        if on_block is not None:
            on_block(block)
        log_pt = np.log1p(block[..., 0].astype(np.float64))
        present = block[..., -1] != 0
        for i, name in enumerate(types):
            slots = layout.slots_of(name)
            sums[i] += log_pt[:, slots][present[:, slots]].sum()
            counts[i] += present[:, slots].sum()
    for i, name in enumerate(types):
        if counts[i]:
            scale[layout.slots_of(name), 0] = _safe_scale(sums[i] / counts[i])
    eta_max = layout.slot_attribute("eta_max")
    scale[:, 1] = np.where(np.isfinite(eta_max), eta_max, 1.0)
    scale[:, 2] = np.pi
    return center, scale


def standard_objects(events, center, scale, *, sincos_phi):
    """Presence flag and standardised object features, for numpy arrays and torch tensors.

    The one implementation of ``EventScaler(features="standard")``, which the encoder also
    applies on the device for ``representation="pooled+raw"``: per slot a presence flag (1 for
    an object, 0 for an empty slot), then ``log(1 + pT)``, eta and phi (or sin phi and cos
    phi) as ``(value - center) / scale``, zero for empty slots.

    Parameters
    ----------
    events : ndarray or Tensor of shape (..., n_slots, 4)
        Canonical collider events: pT, eta, phi, class id.
    center, scale : ndarray or Tensor of shape (n_slots, 3 + sincos_phi), or scalars
        From :class:`ObjectMoments`, of the same kind as ``events``.
    sincos_phi : bool
        Encode phi as (sin phi, cos phi).

    Returns
    -------
    features : ndarray or Tensor of shape (..., n_slots, 4 + sincos_phi)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr.preprocessing import standard_objects
    >>> events = np.array([[[np.e - 1, 0.5, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]]])
    >>> standard_objects(events, 0.0, 1.0, sincos_phi=True)
    array([[[1. , 1. , 0.5, 0. , 1. ],
            [0. , 0. , 0. , 0. , 0. ]]])
    """
    xp = _namespace(events)
    present = events[..., -1:] != 0
    pt, eta, phi = events[..., 0:1], events[..., 1:2], events[..., 2:3]
    angles = [xp.sin(phi), xp.cos(phi)] if sincos_phi else [phi]
    values = xp.concatenate([xp.log1p(pt.clip(min=0)), eta, *angles], axis=-1)
    scaled = (values - center) / scale * present
    return xp.concatenate([present * xp.ones_like(pt), scaled], axis=-1)


class ObjectMoments:
    """Mean and standard deviation per (slot, feature) over the objects present in each slot,
    accumulated block by block: the statistics of :func:`standard_objects`.

    Slots that are never filled get centre 0 and scale 1.
    """

    def __init__(self, layout, *, sincos_phi):
        self.sincos_phi = sincos_phi
        n_features = 4 if sincos_phi else 3
        self.sums = np.zeros((layout.n_slots, n_features))
        self.squares = np.zeros((layout.n_slots, n_features))
        self.counts = np.zeros((layout.n_slots, 1))

    def update(self, block):
        features = standard_objects(np.asarray(block, dtype=np.float64), 0.0, 1.0,
                                    sincos_phi=self.sincos_phi)
        present, values = features[..., :1], features[..., 1:]
        self.sums += values.sum(axis=0)
        self.squares += (values**2).sum(axis=0)
        self.counts += present.sum(axis=0)

    def result(self):
        """(center, scale), each of shape (n_slots, n_features)."""
        filled = np.maximum(self.counts, 1)
        center = self.sums / filled
        variance = np.maximum(self.squares / filled - center**2, 0.0)
        return center, _safe_scale(np.sqrt(variance))


def _safe_scale(std):
    """Standard deviations with zeros replaced by one, so constant features stay finite."""
    std = np.asarray(std, dtype=np.float64)
    return np.where(std > np.finfo(np.float64).eps, std, 1.0)
