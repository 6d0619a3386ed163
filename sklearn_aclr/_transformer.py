"""AnomalyCLRTransformer: contrastive representations of collider events."""

from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sklearn_aclr._base import BaseNetEstimator, split_sizes
from sklearn_aclr._docs import fill_doc
from sklearn_aclr._layout import EventLayout
from sklearn_aclr._nets import AnomalyCLRNet
from sklearn_aclr._sources import iter_blocks
from sklearn_aclr._summary import ExtrapolationGuard, SummaryCollector, event_columns
from sklearn_aclr._torch_utils import unwrapped
from sklearn_aclr._validation import validate_events
from sklearn_aclr.augmentations import Compose, OneOf, default_augmentations, make_augmentation
from sklearn_aclr.nn import AnomalyCLREncoder
from sklearn_aclr.nn.losses import ContrastiveLoss
from sklearn_aclr.preprocessing import (
    ObjectMoments,
    fit_scaling,
    object_feature_names,
    reference_slots,
    relative_azimuth,
)

__all__ = ["AnomalyCLRTransformer"]


def _head(module, events):
    return module(events)


def _pooled(module, events):
    return module.pooled(events)


def _pooled_and_raw(module, events):
    return module.pooled_and_raw(events)


_REPRESENTATIONS = {"pooled+raw": _pooled_and_raw, "pooled": _pooled, "head": _head}


def _n_objects(events):
    """Objects per event of canonical events (class id last), for ordering inference."""
    return (events[..., -1] != 0).sum(axis=-1)


@fill_doc
class AnomalyCLRTransformer(TransformerMixin, BaseNetEstimator):
    """Learn AnomalyCLR representations of collider events by contrastive self-supervision.

    A permutation-invariant Transformer encoder is trained, through skorch, on background
    events alone. For each event it sees a *physical* view (the event rotated in phi and
    smeared within the detector resolution: the same physics) and an *anomalous* view (the
    event with added or split objects, or rescaled MET or pT: generic departures from the
    background). The AnomCLR loss pulls the representation of the physical view towards the
    event's and pushes the anomalous view away, so that the representation space is sensitive
    to the kinds of change that new physics would bring. ``transform`` maps events to these
    representations; an :class:`AutoEncoderScorer` trained on them scores anomalies.

    Parameters
    ----------
    %(event_layout)s
    d_model : int, default=64
        Width of the object tokens inside the Transformer.
    n_heads : int, default=4
        Attention heads per layer; must divide ``d_model``.
    n_layers : int, default=2
        Transformer encoder layers: how many rounds of object-object attention. Two detect
        as well as the paper's four on the validation sample (see "What works") at half the
        cost.
    dim_feedforward : int, default=256
        Width of the feed-forward block of each layer.
    dropout : float, default=0.1
        Dropout inside the Transformer during training.
    output_dim : int, default=32
        Width of the head output, the space the loss compares views in.
    n_head_layers : int, default=2
        Linear layers of the MLP head on the pooled event.
    representation : {"pooled+raw", "pooled", "head"}, default="pooled+raw"
        What ``transform`` returns. ``"pooled"``: the sum-pooled Transformer output before
        the head (``d_model`` features); ``"head"``: the head output (``output_dim``), the
        space whose directions the loss shapes; ``"pooled+raw"``: the pooled output beside
        the event's standardised raw features (a presence flag and standardised log pT, eta,
        sin phi, cos phi per slot, as ``EventScaler(features="standard",
        phi_encoding="sincos")`` gives them, computed on the device). On the validation
        sample of ``benchmarks/ablation.py`` (three seeds, then fresh events), an autoencoder
        on ``"pooled+raw"`` beat the package's autoencoder on the raw features on all four
        signals, where ``"pooled"`` alone lost on all four and the head was worse still; an
        autoencoder with a narrower bottleneck on the raw features is stronger still on
        h+ -> tau nu. Most of the margin is there with an untrained encoder too: see "What
        works" in the docs.
    raw_azimuth : {"absolute", "relative"}, default="absolute"
        The azimuths of the raw features of ``"pooled+raw"``: as measured, or relative to
        the event's hardest trigger object (ADC2021: the leading electron or muon), each
        event turned about the beam to put that object at phi = 0, as
        ``EventScaler(azimuth="relative")`` does (see
        :func:`~sklearn_aclr.preprocessing.relative_azimuth`). An event's orientation
        carries no physics; turned, the raw block keeps only the azimuths between objects.
        Fixed by the first fit: a warm start keeps it.
    phi_encoding : {"sincos", "angle"}, default="sincos"
        Objects' phi enters the network as (sin phi, cos phi), continuous across +-pi, or as
        phi / pi.
    loss : {"anomclr_plus", "anomclr", "anomclr_batch", "simclr"}, default="anomclr_plus"
        ``"anomclr_plus"``: the paper's AnomCLR+, the AnomCLR numerator without a
        denominator (with ``"pooled+raw"`` the best loss of the ablation); ``"anomclr"``: the
        paper's loss with physical positives and anomalous negatives, the other events of the
        batch in the denominator; ``"simclr"``: the NT-Xent ablation without anomalous views;
        ``"anomclr_batch"``: AnomCLR with every event's anomalous view among the negatives
        (not in the paper). See :mod:`sklearn_aclr.nn`.
    temperature : float, default=0.1
        Softmax temperature of the loss; smaller values weigh the hardest negatives more.
    physical : list of str or callable, default=None
        The physical augmentations, applied one after the other to make the positive view.
        None means ``["rotate_phi", "smear_eta_phi", "smear_jet_energy"]`` for collider
        layouts (``["jitter_values"]`` for tabular). Names are keys of
        :data:`sklearn_aclr.augmentations.AUGMENTATIONS`; a callable
        ``aug(events, *, generator)`` defined at module level adds your own.
    anomalous : list of str or callable, default=None
        The anomalous augmentations; each event gets one of them, drawn uniformly. None means
        ``["add_objects", "collinear_split", "shift_met", "scale_pt"]`` for collider layouts
        (``["scale_values"]`` for tabular). Ignored by ``loss="simclr"``.
    lr : float, default=5e-4
        Learning rate of AdamW.
    weight_decay : float, default=0.0
        Decoupled weight decay of AdamW.
    batch_size : int, default=256
        Events per step; each brings 2 or 3 views. Larger batches give the loss more negatives.
    %(inference_batch_size)s
    max_epochs : int, default=50
        Upper bound on epochs.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the events and stop when their loss has not
        improved for ``patience`` epochs, restoring the best weights.
    validation_fraction : float, default=0.1
        Fraction of events held out for early stopping.
    patience : int, default=5
        Epochs without improvement before training stops.
    warm_start : bool, default=False
        If True and the transformer is fitted, ``fit`` continues that training (weights,
        optimiser, random streams, early-stopping state) until ``max_epochs`` epochs in all,
        instead of starting afresh. A fit stopped after some epochs (or interrupted, or
        pickled and loaded) and continued gives the same model as one uninterrupted fit.
    %(checkpoint)s
    %(precision)s
    %(compile)s
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when available. Augmentations run there too.
    accelerator : accelerate.Accelerator, default=None
        Train data-parallel through skorch's ``AccelerateMixin``: start the script with
        ``accelerate launch`` and every process trains on its share of the batches, with
        gradients averaged; the accelerator places the model (``device`` is then ignored)
        and sets mixed precision (keep ``precision="float32"``); needs
        ``early_stopping=False``. See :mod:`sklearn_aclr.distributed`.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, for example ``skorch.callbacks.Checkpoint``.
    %(verbose)s
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling, the validation split and the augmentations. The same value
        gives the same fit.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`~sklearn_aclr.nn.AnomalyCLREncoder`.
    layout_ : EventLayout
        The resolved layout.
    %(training_attributes)s
    training_summary_ : dict
        The training background in numbers, JSON-ready: per object type the min, max and
        quantiles of pT and eta and of the object count. ``transform`` warns when events fall
        outside these ranges; :meth:`save` writes them into the model card.
    %(input_columns)s

    See Also
    --------
    AutoEncoderScorer : Scores anomalies on the representations.
    EventScaler : The raw-data baseline's input scaling.

    References
    ----------
    .. [1] B. M. Dillon, L. Favaro, F. Feiden, T. Modak, T. Plehn, "Anomalies, Representations,
       and Self-Supervision", SciPost Phys. Core 7, 056 (2024), arXiv:2301.04660.

    Examples
    --------
    >>> from sklearn_aclr import AnomalyCLRTransformer
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> X, _ = make_adc_events(300, random_state=0)
    >>> clr = AnomalyCLRTransformer(d_model=16, n_layers=1, dim_feedforward=32, output_dim=8,
    ...                             max_epochs=2, random_state=0).fit(X)
    >>> clr.transform(X).shape  # 16 learned features beside 95 standardised raw ones
    (300, 111)
    >>> clr.get_feature_names_out()[[0, 1, 16, 17]].tolist()
    ['aclr0', 'aclr1', 'met_present', 'met_pt']
    """

    _parameter_constraints = {
        **BaseNetEstimator._parameter_constraints,
        "layout": [StrOptions({"adc2021", "tabular"}), EventLayout],
        "d_model": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "dim_feedforward": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "output_dim": [Interval(Integral, 1, None, closed="left")],
        "n_head_layers": [Interval(Integral, 1, None, closed="left")],
        "representation": [StrOptions(set(_REPRESENTATIONS))],
        "raw_azimuth": [StrOptions({"absolute", "relative"})],
        "phi_encoding": [StrOptions({"sincos", "angle"})],
        "loss": [StrOptions({"anomclr", "anomclr_plus", "anomclr_batch", "simclr"})],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "physical": [list, tuple, None],
        "anomalous": [list, tuple, None],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "accelerator": [None, HasMethods(["prepare", "backward"])],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        layout="adc2021",
        d_model=64,
        n_heads=4,
        n_layers=2,
        dim_feedforward=256,
        dropout=0.1,
        output_dim=32,
        n_head_layers=2,
        representation="pooled+raw",
        raw_azimuth="absolute",
        phi_encoding="sincos",
        loss="anomclr_plus",
        temperature=0.1,
        physical=None,
        anomalous=None,
        lr=5e-4,
        weight_decay=0.0,
        batch_size=256,
        inference_batch_size="auto",
        max_epochs=50,
        early_stopping=True,
        validation_fraction=0.1,
        patience=5,
        warm_start=False,
        checkpoint=None,
        precision="float32",
        compile=False,
        device="auto",
        accelerator=None,
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.layout = layout
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout
        self.output_dim = output_dim
        self.n_head_layers = n_head_layers
        self.representation = representation
        self.raw_azimuth = raw_azimuth
        self.phi_encoding = phi_encoding
        self.loss = loss
        self.temperature = temperature
        self.physical = physical
        self.anomalous = anomalous
        self.accelerator = accelerator
        self.callbacks = callbacks
        super().__init__(
            lr=lr, weight_decay=weight_decay, batch_size=batch_size,
            inference_batch_size=inference_batch_size, max_epochs=max_epochs,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            patience=patience, warm_start=warm_start, checkpoint=checkpoint,
            precision=precision, compile=compile, device=device, verbose=verbose,
            random_state=random_state,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the encoder contrastively on X.

        Parameters
        ----------
        X : array-like of shape (n_events, n_slots, n_columns) or (n_events, n_features), \
                or ADC2021Stream
            Training events, background only. A stream is read batch by batch (shuffled), so
            memory is bounded by ``batch_size`` rather than the file.
        y : None
            Ignored; present for Pipeline and cross-validation compatibility.

        Returns
        -------
        self : AnomalyCLRTransformer
            The fitted transformer.
        """
        self._check_params()
        resume = self._resuming()
        events, self.layout_ = validate_events(self, X, reset=not resume)
        turned = self.raw_azimuth == "relative"
        if turned and not self.layout_.is_collider:
            raise ValueError(
                f"raw_azimuth='relative' turns collider events about the beam; the layout "
                f"{self.layout_.name!r} has no phi. Use raw_azimuth='absolute' for these data.")
        # One pass over the events gives the training summary and, for a new network, the
        # input scaling; training then reads them once per epoch.
        summary = SummaryCollector(event_columns(self.layout_), len(events))
        if resume:
            for block in iter_blocks(events):
                summary.update(block)
        else:
            moments = ObjectMoments(self.layout_, sincos_phi=True)

            def on_block(block):
                summary.update(block)
                if self.layout_.is_collider:
                    moments.update(relative_azimuth(block, self.layout_) if turned else block)

            scaling = fit_scaling(events, self.layout_, on_block=on_block)
        self.training_summary_ = summary.result()
        return self._fit_net(
            events, lambda: self._module_kwargs(*scaling, *moments.result()),
            device=None if self.accelerator is None else str(self.accelerator.device),
        )

    def _check_params(self):
        """Checks across parameters, before any data is read."""
        if self.d_model % self.n_heads:
            raise ValueError(
                f"n_heads={self.n_heads} must divide d_model={self.d_model}; for example "
                f"d_model={self.n_heads * max(1, round(self.d_model / self.n_heads))}."
            )
        if self.accelerator is not None and self.early_stopping:
            raise ValueError(
                "Early stopping is not available with an accelerator: each process would "
                "judge its own share of the validation events and they could stop apart. Set "
                "early_stopping=False and choose max_epochs."
            )
        if self.accelerator is not None and self.checkpoint is not None:
            raise ValueError(
                "checkpoint is not available with an accelerator: every process would write "
                "the same file. Keep checkpoint=None and add a callback that saves from the "
                "main process only, such as skorch.callbacks.Checkpoint."
            )
        if self.accelerator is not None and self.precision != "float32":
            raise ValueError(
                f"With an accelerator, set mixed precision on it, for example "
                f"Accelerator(mixed_precision='bf16'), and keep precision='float32'; got "
                f"precision={self.precision!r}."
            )

    def _module_kwargs(self, center, scale, raw_center, raw_scale):
        """Constructor arguments of the encoder module: JSON-ready, saved in model cards."""
        collider = bool(self.layout_.is_collider)
        return dict(
            center=center.tolist(),
            scale=scale.tolist(),
            raw_center=raw_center.tolist() if collider else None,
            raw_scale=raw_scale.tolist() if collider else None,
            raw_reference=(reference_slots(self.layout_).tolist()
                           if collider and self.raw_azimuth == "relative" else None),
            collider=collider,
            n_types=int(self.layout_.slot_class.max()) + 1,
            sincos_phi=self.phi_encoding == "sincos",
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_layers=self.n_layers,
            dim_feedforward=self.dim_feedforward,
            dropout=self.dropout,
            output_dim=self.output_dim,
            n_head_layers=self.n_head_layers,
        )

    def _make_net(self, module_kwargs, seed, n_events=None):
        """The skorch net that trains the encoder, built from validated parameters.

        ``n_events`` (the training set's size) lets a last batch of a single event, which
        has nothing to contrast with, be dropped; None builds a net for inference.
        """
        drop_last = (_drop_last(n_events, self.batch_size, self.early_stopping,
                                self.validation_fraction)
                     if n_events is not None else {"train": False, "valid": False})
        physical, anomalous = self._augmentations()
        net_class, distributed = AnomalyCLRNet, {}
        if self.accelerator is not None:
            from sklearn_aclr.distributed import accelerated_net_class

            net_class, distributed = accelerated_net_class(AnomalyCLRNet), {
                "accelerator": self.accelerator}
        return net_class(
            module=AnomalyCLREncoder,
            **{f"module__{key}": value for key, value in module_kwargs.items()},
            # A factory: skorch calls a criterion that is not a torch.nn.Module to build it.
            criterion=partial(ContrastiveLoss, kind=self.loss, temperature=self.temperature),
            physical=physical,
            anomalous=anomalous,
            seed=seed,
            iterator_train__drop_last=drop_last["train"],
            iterator_valid__drop_last=drop_last["valid"],
            **distributed,
            **self._training_kwargs(seed, device=None if distributed else self.device_,
                                    callbacks=self.callbacks or ()),
        )

    def _augmentations(self):
        default_physical, default_anomalous = default_augmentations(self.layout_)
        physical = default_physical if self.physical is None else self.physical
        anomalous = default_anomalous if self.anomalous is None else self.anomalous
        layout = self.layout if isinstance(self.layout, EventLayout) else self.layout_.name
        if not physical or (self.loss != "simclr" and not anomalous):
            raise ValueError(
                "physical and anomalous need at least one augmentation each (anomalous may be "
                f"empty only with loss='simclr'); got physical={self.physical!r}, "
                f"anomalous={self.anomalous!r}. Pass None for the defaults."
            )
        return (
            Compose([make_augmentation(a, layout) for a in physical]),
            OneOf([make_augmentation(a, layout) for a in anomalous]),
        )

    def transform(self, X):
        """Map events to their learned representations.

        Parameters
        ----------
        X : array-like of shape (n_events, n_slots, n_columns) or (n_events, n_features), \
                or ADC2021Stream
            Events in the layout seen in fit.

        Returns
        -------
        X_new : ndarray of shape (n_events, n_features_out), dtype float32
            ``d_model`` features for ``representation="pooled"``, ``output_dim`` for
            ``"head"``; ``"pooled+raw"`` appends the standardised raw features to the pooled
            ones (5 per slot for collider events, 95 for ADC2021; one per column for
            tabular data). Computed in batches of ``inference_batch_size``, so memory stays
            bounded.

        Warns
        -----
        ExtrapolationWarning
            Once per call, with counts, if events fall outside the ranges of the training
            background recorded in ``training_summary_``.
        """
        check_is_fitted(self)
        events, _ = validate_events(self, X, reset=False)
        fn = _REPRESENTATIONS[self.representation]
        guard = ExtrapolationGuard(getattr(self, "training_summary_", None),
                                   event_columns(self.layout_), f"{type(self).__name__}.transform")
        # The packed encoder pads each batch to its fullest event: batches of events with as
        # many objects run fastest, so the events are ordered by their number of objects.
        packs_on = getattr(unwrapped(self.net_.module_), "packs_on", None)
        sort_key = (_n_objects if packs_on is not None and packs_on(self.net_._device())
                    else None)
        representations = self._apply(events, fn, on_batch=guard.update, sort_key=sort_key)
        guard.warn()
        return representations

    def get_feature_names_out(self, input_features=None):
        """Names of the representation's features: ``aclr0``, ``aclr1``, ..., then for
        ``representation="pooled+raw"`` the raw features' names, such as ``met_pt`` or
        ``jet3_sinphi`` (those of ``EventScaler(features="standard", phi_encoding="sincos")``).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored beyond a check of its length; the features are learned, not named after
            the input.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        if input_features is not None and len(input_features) != self.n_features_in_:
            raise ValueError(f"input_features has {len(input_features)} names; "
                             f"{type(self).__name__} was fitted on {self.n_features_in_}.")
        learned = self.output_dim if self.representation == "head" else self.d_model
        names = [f"aclr{i}" for i in range(learned)]
        if self.representation == "pooled+raw":
            names += _raw_feature_names(self.layout_)
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = self.layout != "tabular"
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _raw_feature_names(layout):
    """Names of the standardised raw features that ``"pooled+raw"`` appends."""
    if not layout.is_collider:
        return list(layout.slot_names)
    return object_feature_names(layout, sincos_phi=True, standard=True)


def _drop_last(n_events, batch_size, early_stopping, validation_fraction):
    """Check that both splits can fill contrastive batches (>= 2 events); choose drop_last.

    A last batch of a single event has no other event to contrast with, so it is dropped.
    """
    n_train, n_valid = split_sizes(n_events, early_stopping, validation_fraction)
    if n_train < 2 or (early_stopping and n_valid < 2):
        raise ValueError(
            f"Contrastive training needs at least 2 events for training and 2 for validation; "
            f"n_samples={n_events} with validation_fraction={validation_fraction} and "
            f"early_stopping={early_stopping} leaves {n_train} and {n_valid}. Pass more events, "
            "raise validation_fraction, or set early_stopping=False."
        )
    return {"train": n_train % batch_size == 1, "valid": n_valid % batch_size == 1}
