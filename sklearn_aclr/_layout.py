"""The event layout: which object sits in which slot, its features and its acceptance.

Every estimator in the package sees events through an :class:`EventLayout`. The default,
``"adc2021"``, is the CMS ADC2021 ``Particles`` array: 19 slots (MET, 4 electrons, 4 muons,
10 jets), each with pT, eta, phi and a class id. ``"tabular"`` treats every column of a plain
2D array as one scalar object of its own type, so the estimators also run on arbitrary data.

Internally events are always held in the *canonical* form ``(n_events, n_slots, n_features + 1)``
with the class id in the last column (0 marks an empty slot, whose other entries are zero).
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EventLayout", "ObjectType", "ADC2021", "get_layout", "check_events",
           "invalid_events"]

# Tolerance on |phi| <= pi: float32 rounding of pi itself must not be rejected.
_PHI_TOLERANCE = 1e-5


@dataclass(frozen=True)
class ObjectType:
    """One kind of reconstructed object.

    Parameters
    ----------
    name : str
        Short name used in feature names, for example ``"jet"``.
    class_id : int
        Id stored in the class column of the ADC2021 ``Particles`` array.
    eta_max : float
        Acceptance, ``|eta| < eta_max``; ``inf`` where there is none (MET).
    pt_min : float
        Reconstruction threshold in GeV; 0 where there is none.

    Examples
    --------
    >>> from sklearn_aclr import ADC2021
    >>> ADC2021.object_type("mu")
    ObjectType(name='mu', class_id=3, eta_max=2.1, pt_min=3.0)
    """

    name: str
    class_id: int
    eta_max: float = np.inf
    pt_min: float = 0.0


@dataclass(frozen=True)
class EventLayout:
    """Slots, features and acceptance of an event array.

    Parameters
    ----------
    name : str
        Identifier, ``"adc2021"`` or ``"tabular"`` for the built-in layouts.
    object_types : tuple of ObjectType
        The kinds of objects, in class-id order.
    slot_types : tuple of str
        For each slot, the name of the object type it holds.
    features : tuple of str
        Kinematic features per object (without the class id), for example
        ``("pt", "eta", "phi")``.
    has_class_column : bool, default=True
        Whether input arrays may carry a class-id column. ``False`` for tabular data, where
        every slot is always present.
    trigger_types : tuple of str, default=()
        The event selection: an event is kept if an object of one of these types has pT above
        ``trigger_pt``. Empty means no selection. ADC2021: an electron or muon above 23 GeV.
    trigger_pt : float, default=0.0
        pT threshold of the selection, in GeV.

    Attributes
    ----------
    n_slots : int
        Number of object slots.
    slot_class : ndarray of shape (n_slots,)
        Class id expected in each slot.

    Examples
    --------
    >>> from sklearn_aclr import ADC2021
    >>> ADC2021.n_slots, ADC2021.features
    (19, ('pt', 'eta', 'phi'))
    >>> ADC2021.slot_names[:3]
    ('met', 'ele0', 'ele1')
    """

    name: str
    object_types: tuple
    slot_types: tuple
    features: tuple
    has_class_column: bool = True
    trigger_types: tuple = ()
    trigger_pt: float = 0.0
    _types_by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        by_name = {t.name: t for t in self.object_types}
        unknown = sorted((set(self.slot_types) | set(self.trigger_types)) - set(by_name))
        if unknown:
            raise ValueError(f"slot_types or trigger_types name unknown object types {unknown}.")
        object.__setattr__(self, "_types_by_name", by_name)

    @property
    def n_slots(self):
        return len(self.slot_types)

    @property
    def n_features(self):
        return len(self.features)

    @property
    def is_collider(self):
        """Whether objects carry (pt, eta, phi) kinematics that physical augmentations use."""
        return self.features[:3] == ("pt", "eta", "phi")

    @property
    def slot_class(self):
        return np.array([self._types_by_name[t].class_id for t in self.slot_types], dtype=np.int64)

    @property
    def slot_names(self):
        """Per-slot names such as ``"met"``, ``"ele0"``, ``"jet9"``."""
        counts = {t: self.slot_types.count(t) for t in set(self.slot_types)}
        seen = {}
        names = []
        for t in self.slot_types:
            i = seen.get(t, 0)
            seen[t] = i + 1
            names.append(t if counts[t] == 1 else f"{t}{i}")
        return tuple(names)

    def object_type(self, name):
        return self._types_by_name[name]

    def slot_attribute(self, attribute):
        """Array of one :class:`ObjectType` attribute (``"eta_max"``, ``"pt_min"``) per slot."""
        return np.array(
            [getattr(self._types_by_name[t], attribute) for t in self.slot_types], dtype=np.float64
        )

    def slots_of(self, name):
        """Indices of the slots that hold objects of type ``name``."""
        return np.flatnonzero(np.asarray(self.slot_types) == name)

    @property
    def accepted_widths(self):
        """Numbers of columns accepted for 2D input, with and without the class column."""
        widths = [self.n_slots * self.n_features]
        if self.has_class_column:
            widths.insert(0, self.n_slots * (self.n_features + 1))
        return tuple(widths)

    @classmethod
    def tabular(cls, n_features):
        """A layout where each of ``n_features`` columns is one scalar object of its own type."""
        types = tuple(ObjectType(f"x{i}", i + 1) for i in range(n_features))
        return cls(
            name="tabular",
            object_types=types,
            slot_types=tuple(t.name for t in types),
            features=("value",),
            has_class_column=False,
        )


ADC2021 = EventLayout(
    name="adc2021",
    object_types=(
        ObjectType("met", 1),
        ObjectType("ele", 2, eta_max=3.0, pt_min=3.0),
        ObjectType("mu", 3, eta_max=2.1, pt_min=3.0),
        ObjectType("jet", 4, eta_max=4.0, pt_min=15.0),
    ),
    slot_types=("met",) + ("ele",) * 4 + ("mu",) * 4 + ("jet",) * 10,
    features=("pt", "eta", "phi"),
    trigger_types=("ele", "mu"),
    trigger_pt=23.0,
)
"""The CMS ADC2021 ``Particles`` layout: slot 0 MET, 1-4 electrons, 5-8 muons, 9-18 jets."""

LAYOUTS = {"adc2021": ADC2021}


def get_layout(layout, n_features=None):
    """Resolve a layout given by name or instance.

    Parameters
    ----------
    layout : {"adc2021", "tabular"} or EventLayout
        The layout. ``"tabular"`` needs ``n_features``.
    n_features : int, default=None
        Number of columns, for ``"tabular"``.

    Returns
    -------
    EventLayout
    """
    if isinstance(layout, EventLayout):
        return layout
    if layout == "tabular":
        if n_features is None:
            raise ValueError("The tabular layout needs n_features.")
        return EventLayout.tabular(n_features)
    try:
        return LAYOUTS[layout]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown layout {layout!r}; expected one of {sorted(LAYOUTS) + ['tabular']} "
            "or an EventLayout instance."
        ) from None


def _describe_shapes(layout):
    s, f = layout.n_slots, layout.n_features
    if not layout.has_class_column:
        return f"(n_events, {s * f})"
    return (
        f"(n_events, {s}, {f + 1}), (n_events, {s}, {f}), "
        f"(n_events, {s * (f + 1)}) or (n_events, {s * f})"
    )


def to_canonical(X, layout):
    """Reshape events to ``(n_events, n_slots, n_features + 1)`` without checking the physics.

    ``X`` may be 3D ``(n, n_slots, n_features[+1])`` or 2D ``(n, n_slots * n_features[+1])``;
    a missing class column is rebuilt from the slot (present where any feature is non-zero,
    MET always present).
    """
    X = np.asarray(X)
    s, f = layout.n_slots, layout.n_features
    if X.ndim == 2 and X.shape[1] in layout.accepted_widths:
        X = X.reshape(len(X), s, -1)
    if X.ndim != 3 or X.shape[1] != s or X.shape[2] not in (f, f + 1):
        raise ValueError(
            f"Events of shape {X.shape} do not fit the {layout.name!r} layout: expected "
            f"{_describe_shapes(layout)}. Pass the ADC2021 'Particles' array as read from the "
            "HDF5 file, or the same array flattened with X.reshape(len(X), -1)."
        )
    if X.shape[2] == f + 1 and not layout.has_class_column:
        raise ValueError(f"The {layout.name!r} layout has no class-id column; got {X.shape}.")
    if X.shape[2] == f + 1:
        return X
    slot_class = layout.slot_class
    if layout.has_class_column:
        present = np.any(X != 0, axis=2)
        present[:, slot_class == 1] = True  # MET (class 1) is always present, even at 0 GeV
        class_col = np.where(present, slot_class, 0)
    else:
        class_col = np.broadcast_to(slot_class, X.shape[:2])
    return np.concatenate([X, class_col[..., None].astype(X.dtype)], axis=2)


def check_events(X, layout=ADC2021, *, dtype=np.float32):
    """Validate events and return them in canonical form.

    Parameters
    ----------
    X : array-like
        Events, 3D ``(n, n_slots, n_features[+1])`` or flattened 2D.
    layout : EventLayout, default=ADC2021
        The layout the events follow.
    dtype : numpy dtype, default=np.float32
        Dtype of the returned array.

    Returns
    -------
    events : ndarray of shape (n_events, n_slots, n_features + 1)
        Canonical events, class id in the last column.

    Raises
    ------
    ValueError
        On a wrong shape, NaN or infinite entries, negative pT, ``|phi| > pi``, class ids that
        disagree with their slot, or empty slots with non-zero features.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr._layout import check_events
    >>> events = np.zeros((2, 19, 4)); events[:, 0, 3] = 1
    >>> check_events(events).shape
    (2, 19, 4)
    >>> check_events(np.zeros((2, 19, 5)))
    Traceback (most recent call last):
    ...
    ValueError: Events of shape (2, 19, 5) do not fit the 'adc2021' layout: ...
    """
    X = to_canonical(X, layout).astype(dtype, copy=False)
    for rule, broken in _broken_rules(X, layout).items():
        if broken.any():
            raise ValueError(_rule_message(rule, X, layout, broken))
    return X


def _broken_rules(X, layout):
    """The rules of valid canonical events, each with its (n_events, n_slots) mask of the
    slots that break it, in the order in which :func:`check_events` reports them."""
    rules = {"finite": ~np.all(np.isfinite(X), axis=2)}
    if layout.has_class_column:
        cls = X[..., -1]
        rules["class"] = (cls != 0) & (cls != layout.slot_class)
        rules["empty"] = (cls == 0) & np.any(X[..., :-1] != 0, axis=2)
    if layout.is_collider:
        with np.errstate(invalid="ignore"):  # NaN entries break "finite" already
            rules["pt"] = X[..., 0] < 0
            rules["phi"] = np.abs(X[..., 2]) > np.pi + _PHI_TOLERANCE
    return rules


def _rule_message(rule, X, layout, broken):
    """What is wrong with the first slot that breaks ``rule``, and how to mend it."""
    event, slot = map(int, np.argwhere(broken)[0])
    where = f"slot {slot} ({layout.slot_names[slot]}) of event {event}"
    if rule == "finite":
        n_events = int(np.any(broken, axis=1).sum())
        return (f"{n_events} event(s) contain NaN or infinite values, the first is event "
                f"{event}. Remove them first, for example with "
                "X[np.isfinite(X).all(axis=(1, 2))].")
    if rule == "class":
        return (f"Class id {X[event, slot, -1]:g} in {where} disagrees with the "
                f"{layout.name!r} layout, which expects {layout.slot_class[slot]} or 0 (empty) "
                f"there; {int(broken.sum())} slot(s) disagree. Check the column order (pt, eta, "
                "phi, class id) and the slot order.")
    if rule == "empty":
        return (f"The {where} has class id 0 (empty) but non-zero features "
                f"{X[event, slot, :-1].tolist()}; empty slots must be all zero. Set the class "
                "id of real objects, or zero the slot.")
    if rule == "pt":
        return (f"Negative pT {X[event, slot, 0]:g} in {where}; pT must be >= 0 GeV. Check "
                "that column 0 holds pT.")
    return (f"phi = {X[event, slot, 2]:g} in {where} is outside [-pi, pi]. Wrap angles with "
            "np.mod(phi + np.pi, 2 * np.pi) - np.pi, and check that column 2 holds phi.")


def invalid_events(X, layout=ADC2021):
    """Which events :func:`check_events` would reject, one flag per event.

    ``X`` holds events of the layout, 3D or flattened; the checks are those of
    :func:`check_events`: NaN or infinite values, class ids that disagree with their slot,
    empty slots with values, negative pT and ``|phi| > pi``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr._layout import invalid_events
    >>> events = np.zeros((3, 19, 4)); events[:, 0, 3] = 1
    >>> events[1, 0, 0] = np.nan; events[2, 9, 3] = 2  # a NaN; an electron id in a jet slot
    >>> invalid_events(events).tolist()
    [False, True, True]
    """
    rules = _broken_rules(to_canonical(X, layout), layout)
    return np.any([broken.any(axis=1) for broken in rules.values()], axis=0)
