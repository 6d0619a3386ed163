"""Save fitted estimators as plain weights plus a JSON model card, and load them safely.

A saved model is a directory of two files:

- ``weights.pt``: the module's tensors, written by ``torch.save`` and read back with
  ``torch.load(weights_only=True)``, which never runs code from the file;
- ``card.json``: what is needed to use the model and to judge whether it applies: the package,
  torch, skorch, scikit-learn and numpy versions, the estimator and its hyperparameters, the
  event layout, the module's constructor arguments, the fitted attributes (loss curves,
  threshold) and ``training_summary``: per feature the min, max and quantiles of the training
  background, which ``transform`` and the scoring methods compare new input with.

Loading builds the estimator from the card's plain values, then fills in the tensors. The class
must be one registered here: every subclass of :class:`PersistenceMixin` registers itself when
its module is imported, and the card names that module, which must belong to sklearn-aclr.
A model written by another version of sklearn-aclr loads with a
:class:`~sklearn_aclr.exceptions.ModelVersionWarning`. Pickle (or joblib) remains the way to
keep everything, training state included, between sessions of the same installation.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> from sklearn_aclr import AutoEncoderScorer
>>> from sklearn_aclr.persistence import load_model, read_card
>>> X = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
>>> scorer = AutoEncoderScorer(hidden_layer_sizes=(8,), latent_dim=2, max_epochs=2,
...                            random_state=0).fit(X)
>>> with tempfile.TemporaryDirectory() as folder:
...     path = scorer.save(f"{folder}/scorer")
...     card = read_card(path)
...     loaded = load_model(path)
>>> card["estimator"], sorted(card["training_summary"]["features"])
('AutoEncoderScorer', ['x0', 'x1', 'x2', 'x3'])
>>> bool(np.array_equal(loaded.score_samples(X), scorer.score_samples(X)))
True
"""

import contextlib
import dataclasses
import datetime
import importlib
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from sklearn_aclr._docs import fill_doc
from sklearn_aclr._layout import EventLayout, ObjectType, get_layout
from sklearn_aclr._torch_utils import original_module, resolve_device
from sklearn_aclr._version import __version__
from sklearn_aclr._warnings import warn
from sklearn_aclr.exceptions import ModelVersionWarning

__all__ = ["CompositeStepMixin", "PersistenceMixin", "load_model", "read_card", "save_model"]

FORMAT = "sklearn-aclr-model"
FORMAT_VERSION = 1
WEIGHTS = "weights.pt"
CARD = "card.json"

# Fitted attributes kept in the card; net_ is rebuilt from the module arguments and weights.
_CURVES = ("loss_curve_", "validation_loss_curve_")
_PLAIN = ("device_", "n_epochs_", "n_features_in_", "offset_", "training_summary_")

# "module.ClassName" -> class, filled by PersistenceMixin.__init_subclass__ (models) and by
# CompositeStepMixin.__init_subclass__ (steps made of steps).
_REGISTRY = {}
_COMPOSITES = {}


class PersistenceMixin:
    """``save(path)`` and ``load(path)`` for the package's estimators.

    A subclass registers itself for :func:`load_model` when it is defined. It needs a fitted
    ``net_`` (a skorch net with a ``module_``) and a method ``_make_net(module_kwargs, seed)``
    that builds an unfitted net around a module of those constructor arguments.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("Base"):
            _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls

    @fill_doc
    def save(self, path, *, overwrite=False):
        """Save the fitted estimator: weights for ``torch.load(weights_only=True)`` + a card.

        Parameters
        ----------
        %(save_to)s

        Returns
        -------
        path : pathlib.Path
            Where the model was written.
        """
        return save_model(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path, *, device="auto"):
        """Load an estimator written by :meth:`save`; no code from the files is run.

        Parameters
        ----------
        path : str or path-like
            A directory written by :meth:`save`.
        device : str, default="auto"
            Where the module goes: ``"auto"`` picks CUDA when available.

        Returns
        -------
        estimator
            The fitted estimator, of this class.
        """
        return load_model(path, device=device, expected=cls)


class CompositeStepMixin:
    """How :func:`save_pipeline` writes a fitted step made of other fitted steps.

    A subclass (:class:`~sklearn_aclr.SeedEnsemble`) registers itself for
    :func:`load_pipeline` when it is defined, and implements two methods:
    ``_pipeline_entry(write_step)``, which returns its JSON-ready entry of ``pipeline.json``
    and writes each part by calling ``write_step(part, name)`` (which returns the part's
    entry), and the classmethod ``_from_pipeline_entry(entry, read_step)``, which rebuilds
    the fitted step, reading each part back with ``read_step(part_entry)``. Each part is
    written as a pipeline step is: no pickle.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _COMPOSITES[f"{cls.__module__}.{cls.__qualname__}"] = cls


def _registered_class(module, name, registry, unknown):
    """The class ``name`` of ``module`` if ``registry`` holds it, importing the module first
    where it belongs to sklearn-aclr (a user's subclass must be imported by the user);
    otherwise a ValueError that starts with ``unknown``."""
    cls = None
    if module == "sklearn_aclr" or module.startswith("sklearn_aclr."):
        with contextlib.suppress(ImportError):  # an unknown module: the error below says so
            cls = getattr(importlib.import_module(module), name, None)
    else:
        cls = registry.get(f"{module}.{name}")
    if cls not in registry.values():
        raise ValueError(f"{unknown} {name!r} of {module!r}; import the module that defines "
                         "it first.")
    return cls


def _versions():
    import sklearn
    import skorch

    return {
        "sklearn_aclr": __version__, "torch": torch.__version__,
        "skorch": skorch.__version__, "sklearn": sklearn.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
    }


def _jsonable(value):
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _layout_to_json(layout):
    if isinstance(layout, EventLayout):
        return {"EventLayout": {
            "name": layout.name,
            "object_types": [dataclasses.asdict(t) for t in layout.object_types],
            "slot_types": list(layout.slot_types),
            "features": list(layout.features),
            "has_class_column": layout.has_class_column,
            "trigger_types": list(layout.trigger_types),
            "trigger_pt": layout.trigger_pt,
        }}
    return layout


def _layout_from_json(value):
    if isinstance(value, dict):
        spec = dict(value["EventLayout"])
        spec["object_types"] = tuple(ObjectType(**t) for t in spec["object_types"])
        spec["slot_types"] = tuple(spec["slot_types"])
        spec["features"] = tuple(spec["features"])
        spec["trigger_types"] = tuple(spec.get("trigger_types", ()))
        return EventLayout(**spec)
    return value


@fill_doc
def save_model(estimator, path, *, overwrite=False):
    """Write a fitted estimator to the directory ``path``; see the module's description.

    Parameters
    ----------
    estimator : AnomalyCLRTransformer or AutoEncoderScorer
        A fitted estimator.
    %(save_to)s

    Returns
    -------
    path : pathlib.Path
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
    params, unsaved = {}, {}
    for name, value in estimator.get_params(deep=False).items():
        value = _layout_to_json(value) if name == "layout" else value
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, os.PathLike):  # a checkpoint directory
            value = os.fspath(value)
        if _jsonable(value):
            params[name] = value
        else:
            params[name] = None
            unsaved[name] = repr(value)
    fitted = {name: getattr(estimator, name) for name in _PLAIN if hasattr(estimator, name)}
    for name in _CURVES:
        curve = getattr(estimator, name, None)
        fitted[name] = None if curve is None else np.asarray(curve, dtype=float).tolist()
    names = getattr(estimator, "feature_names_in_", None)
    fitted["feature_names_in_"] = None if names is None else [str(n) for n in names]
    net = estimator.net_
    module = original_module(net.module_)
    card = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "estimator_module": type(estimator).__module__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "params": params,
        "unsaved_params": unsaved,
        "layout": getattr(getattr(estimator, "layout_", None), "name", None),
        "module": {
            "class": type(module).__name__,
            "kwargs": {k[len("module__"):]: v for k, v in net.get_params().items()
                       if k.startswith("module__")},
        },
        "fitted": fitted,
        "training_summary": fitted.pop("training_summary_", None),
    }
    weights = {k: v.detach().cpu() for k, v in module.state_dict().items()}

    def write(folder):
        torch.save(weights, folder / WEIGHTS)
        (folder / CARD).write_text(json.dumps(card, indent=2) + "\n")

    return _write_directory(path, write)


def _write_directory(path, write):
    """Create the directory ``path`` atomically: ``write(folder)`` fills a staging folder
    beside it, which then replaces ``path``; a failure leaves ``path`` as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(staging)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / "model")
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def read_card(path):
    """The model card of a saved model, as a dict, after checking that it is one.

    Parameters
    ----------
    path : str or path-like
        A directory written by ``save``.

    Returns
    -------
    card : dict
    """
    path = Path(path)
    card_path = path / CARD
    if not card_path.is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is not a saved sklearn-aclr model: it has no {CARD}. Give the "
            "directory that estimator.save(path) wrote."
        )
    try:
        card = json.loads(card_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{str(card_path)!r} is not valid JSON ({exc}); the model is damaged. Save it again "
            "from the fitted estimator."
        ) from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ValueError(f"{str(card_path)!r} is not a sklearn-aclr model card.")
    if card.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} uses model format {card['format_version']}, newer than this "
            f"sklearn-aclr reads ({FORMAT_VERSION}). Upgrade sklearn-aclr to load it."
        )
    return card


def load_model(path, *, device="auto", expected=None):
    """Load an estimator written by ``save``; no code from the files is run.

    Parameters
    ----------
    path : str or path-like
        A directory written by ``save``.
    device : str, default="auto"
        Where the module goes: ``"auto"`` picks CUDA when available.
    expected : type, optional
        Raise a TypeError unless the model is of this class.

    Returns
    -------
    estimator : AnomalyCLRTransformer or AutoEncoderScorer
    """
    path = Path(path)
    card = read_card(path)
    cls = _estimator_class(card, path)
    if expected is not None and not issubclass(cls, expected):
        raise TypeError(
            f"{str(path)!r} holds a {cls.__name__}; load it with {cls.__name__}.load or "
            "sklearn_aclr.persistence.load_model."
        )
    saved_version = card["versions"].get("sklearn_aclr")
    versions = _versions()
    if saved_version != versions["sklearn_aclr"]:
        warn(
            f"{str(path)!r} was saved by sklearn-aclr {saved_version} (torch "
            f"{card['versions'].get('torch')}); this is {versions['sklearn_aclr']} (torch "
            f"{versions['torch']}). Its outputs may differ; check them on known events, or "
            "refit with this version.",
            ModelVersionWarning,
        )
    try:
        weights = torch.load(path / WEIGHTS, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{str(path)!r} has a card but no {WEIGHTS}.") from None
    except Exception as exc:  # torch raises several types for damaged files
        raise ValueError(
            f"{str(path / WEIGHTS)!r} could not be read as plain tensors ({exc}). The file is "
            "damaged or was not written by sklearn-aclr."
        ) from exc

    params = dict(card["params"])
    if "layout" in params:
        params["layout"] = _layout_from_json(params["layout"])
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    estimator = cls(**{k: v for k, v in params.items() if k not in card["unsaved_params"]})
    estimator._validate_params()
    fitted = card["fitted"]
    for name in _PLAIN:
        if name in fitted:
            setattr(estimator, name, fitted[name])
    estimator.training_summary_ = card.get("training_summary")
    for name in _CURVES:
        curve = fitted.get(name)
        setattr(estimator, name, None if curve is None else np.asarray(curve, dtype=np.float64))
    if fitted.get("feature_names_in_") is not None:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    if hasattr(estimator, "layout"):
        estimator.layout_ = get_layout(estimator.layout, estimator.n_features_in_)
    estimator.device_ = resolve_device(device)
    net = estimator._make_net(card["module"]["kwargs"], 0)
    net.initialize()
    try:
        original_module(net.module_).load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"The weights in {str(path)!r} do not fit the module its card describes ({exc})."
        ) from exc
    estimator.net_ = net
    return estimator


def _estimator_class(card, path):
    """The registered class a card names, importing its module (within sklearn-aclr) first.

    Cards written before the module was recorded name a public class of the package.
    """
    return _registered_class(card.get("estimator_module", "sklearn_aclr"),
                             str(card.get("estimator")), _REGISTRY,
                             f"{str(path)!r} holds an unknown estimator")


PIPELINE_FORMAT = "sklearn-aclr-pipeline"
PIPELINE = "pipeline.json"
# Packages whose classes skops may create for a pipeline's scikit-learn steps without being
# asked; functions (which a step could call later) must always be trusted by name.
_TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")


@fill_doc
def save_pipeline(pipeline, path, *, overwrite=False):
    """Save a fitted ``Pipeline``: the package's estimators as weights plus cards, the rest
    without pickle.

    Each step goes to its own entry of the directory ``path``:
    :class:`~sklearn_aclr.AnomalyCLRTransformer` and :class:`~sklearn_aclr.AutoEncoderScorer`
    as :func:`save_model` writes them, :class:`~sklearn_aclr.EventScaler` as JSON, a
    :class:`~sklearn_aclr.SeedEnsemble` as JSON beside an entry for each member (saved as a
    step is: any step made of fitted steps, a ``CompositeStepMixin``, is written so),
    and any other scikit-learn step (a ``StandardScaler``, an ``IsolationForest``,
    ...) through skops (the ``[skops]`` extra), whose format holds no code.
    ``pipeline.json`` lists the steps.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline or BackgroundOnly
        A fitted pipeline; a fitted :class:`~sklearn_aclr.model_selection.BackgroundOnly`
        (the ``best_estimator_`` of a search) is saved as the pipeline it fitted.
    %(save_to)s

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_aclr import AutoEncoderScorer, EventScaler
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> from sklearn_aclr.persistence import load_pipeline, save_pipeline
    >>> X, _ = make_adc_events(200, random_state=0)
    >>> pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=2, random_state=0))
    >>> pipe = pipe.fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     loaded = load_pipeline(save_pipeline(pipe, f"{folder}/pipe"))
    >>> bool(np.array_equal(loaded.score_samples(X), pipe.score_samples(X)))
    True
    """
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from sklearn_aclr.model_selection import BackgroundOnly

    if isinstance(pipeline, BackgroundOnly):
        check_is_fitted(pipeline)
        pipeline = pipeline.estimator_
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"save_pipeline takes a Pipeline; got {type(pipeline).__name__}. Save "
                        "a single estimator with its save method.")
    check_is_fitted(pipeline)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")

    def write(folder):
        steps = [_write_step(step, name, folder, f"{index:02d}-{name}")
                 for index, (name, step) in enumerate(pipeline.steps)]
        card = {"format": PIPELINE_FORMAT, "format_version": FORMAT_VERSION,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "versions": _versions(), "steps": steps}
        (folder / PIPELINE).write_text(json.dumps(card, indent=2) + "\n")

    return _write_directory(path, write)


def load_pipeline(path, *, device="auto", trusted=None):
    """Load a pipeline written by :func:`save_pipeline`; no code from the files is run.

    Parameters
    ----------
    path : str or path-like
        A directory written by :func:`save_pipeline`.
    device : str, default="auto"
        Where the package's modules go.
    trusted : list of str, default=None
        Further types that skops may create for the scikit-learn steps, by their full names
        (see ``skops.io.get_untrusted_types``). Classes of scikit-learn, numpy and scipy are
        trusted; anything else in a file (functions included) is refused, with its name,
        until you list it here.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    from sklearn.pipeline import Pipeline

    path = Path(path)
    try:
        card = json.loads((path / PIPELINE).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{str(path)!r} has no {PIPELINE}: it was not written by save_pipeline (a single "
            "estimator loads with load_model)."
        ) from None
    if card.get("format") != PIPELINE_FORMAT:
        raise ValueError(f"{str(path / PIPELINE)!r} is not an sklearn-aclr pipeline card.")
    return Pipeline([(step["name"], _read_step(step, path, device, trusted))
                     for step in card["steps"]])


def _write_step(step, name, folder, entry):
    """Write a fitted step of a pipeline under ``folder`` (its files named from ``entry``) and
    return its entry of ``pipeline.json``."""
    from sklearn.pipeline import Pipeline

    from sklearn_aclr.preprocessing import EventScaler

    if step is None or step == "passthrough":
        return {"name": name, "kind": "passthrough"}
    if isinstance(step, PersistenceMixin):
        save_model(step, folder / entry)
        return {"name": name, "kind": "model", "path": entry}
    # Subclasses may hold more than these write: skops keeps them whole.
    if type(step) is EventScaler:
        return {"name": name, "kind": "event_scaler", **_scaler_to_json(step)}
    if isinstance(step, CompositeStepMixin):
        cls = type(step)
        return {"name": name, "kind": "composite", "class": cls.__qualname__,
                "module": cls.__module__, **step._pipeline_entry(
                    lambda part, part_name: _write_step(part, part_name, folder,
                                                        f"{entry}-{part_name}"))}
    if type(step) is Pipeline:  # a member of an ensemble of pipelines
        save_pipeline(step, folder / entry)
        return {"name": name, "kind": "pipeline", "path": entry}
    _skops().dump(step, folder / f"{entry}.skops")
    return {"name": name, "kind": "skops", "path": f"{entry}.skops",
            "class": f"{type(step).__module__}.{type(step).__qualname__}"}


def _read_step(step, path, device, trusted):
    """The step that the ``pipeline.json`` entry ``step`` of the directory ``path`` describes."""
    kind = step["kind"]
    if kind == "passthrough":
        return "passthrough"
    if kind == "model":
        return load_model(path / step["path"], device=device)
    if kind == "event_scaler":
        return _scaler_from_json(step)
    if kind == "composite":
        cls = _registered_class(step["module"], step["class"], _COMPOSITES,
                                f"{str(path / PIPELINE)!r} names an unknown step")
        return cls._from_pipeline_entry(
            step, lambda part: _read_step(part, path, device, trusted))
    if kind == "pipeline":
        return load_pipeline(path / step["path"], device=device, trusted=trusted)
    if kind == "skops":
        return _load_skops(path / step["path"], trusted)
    raise ValueError(f"{str(path / PIPELINE)!r} names an unknown kind of step {kind!r}.")


def _scaler_to_json(scaler):
    names = getattr(scaler, "feature_names_in_", None)
    params = scaler.get_params(deep=False)
    return {
        "params": {**params, "layout": _layout_to_json(params["layout"])},
        "layout_": _layout_to_json(scaler.layout_),
        "center_": np.asarray(scaler.center_).tolist(),
        "scale_": np.asarray(scaler.scale_).tolist(),
        "n_features_in_": int(scaler.n_features_in_),
        "feature_names_in_": None if names is None else [str(n) for n in names],
    }


def _scaler_from_json(entry):
    from sklearn_aclr.preprocessing import EventScaler

    params = dict(entry["params"])
    params["layout"] = _layout_from_json(params["layout"])
    scaler = EventScaler(**params)
    scaler._validate_params()
    scaler.layout_ = _layout_from_json(entry["layout_"])  # saved whole, as an EventLayout
    scaler.center_ = np.asarray(entry["center_"], dtype=np.float64)
    scaler.scale_ = np.asarray(entry["scale_"], dtype=np.float64)
    scaler.n_features_in_ = entry["n_features_in_"]
    if entry.get("feature_names_in_") is not None:
        scaler.feature_names_in_ = np.asarray(entry["feature_names_in_"], dtype=object)
    return scaler


def _skops():
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError(
            "Saving and loading the scikit-learn steps of a pipeline needs skops: pip install "
            "'sklearn-aclr[skops]'."
        ) from exc
    return skops.io


def _trusted_class(name):
    """Whether ``name`` ("package.module.Class") is a class of a trusted package."""
    module, _, attribute = name.rpartition(".")
    if module.split(".")[0] not in _TRUSTED_PACKAGES:
        return False
    try:
        return isinstance(getattr(importlib.import_module(module), attribute), type)
    except (ImportError, AttributeError):
        return False


def _load_skops(file, trusted):
    sio = _skops()
    listed = sio.get_untrusted_types(file=file)
    untrusted = [name for name in listed
                 if not _trusted_class(name) and name not in (trusted or ())]
    if untrusted:
        raise ValueError(
            f"{str(file)!r} holds types that are not trusted by default: {untrusted}. Check "
            "where the file comes from, then pass them as load_pipeline(..., trusted=[...])."
        )
    return sio.load(file, trusted=listed)
