"""Documentation in one place: docstring pieces that several public names share, and the
links from the estimators' HTML diagrams to their pages.

A docstring line that reads only ``%(name)s`` is replaced by ``DOCS[name]``, indented like
the line, when the function or class is decorated with :func:`fill_doc` (as
``scipy._lib.doccer`` does for scipy.stats). Rendered help, Sphinx and the doctests see the
full text; the source keeps one copy of each piece.
"""

import functools
import os
import re
import sys
from importlib import metadata

__all__ = ["DOCS", "DocLinkMixin", "documentation_url", "fill_doc"]

DOCS = {
    "three_view_loss": """\
Parameters
----------
z, z_phys, z_anom : Tensor of shape (B, D)
    Representations of the events, their physical and their anomalous views.
temperature : float, default=0.1
    ``tau``.

Returns
-------
loss : Tensor, scalar""",
    "display_attributes": """\
ax_ : matplotlib.axes.Axes
    Where the display drew.
figure_ : matplotlib.figure.Figure
    The figure of ``ax_``.
line_ : matplotlib artist
    What was drawn: the curve's line, or the histograms' patches.""",
    "draw": """\
name : str, default=None
    Legend entry (for the score distributions: the signal's name).
ax : matplotlib.axes.Axes, default=None
    Where to draw; None makes a new figure through pyplot.
**kwargs : dict
    Passed to the matplotlib call that draws (``Axes.plot``, ``Axes.hist``).""",
    "features_to_score": """\
X : array-like of shape (n_samples, n_features), or ADC2021Stream
    Events to score, in the features the scorer was fitted on (scaled events or
    representations); a stream must serve them through its ``transform``.""",
    "inference_batch_size": """\
inference_batch_size : int or "auto", default="auto"
    Events per batch in inference (``transform``, scoring); it bounds memory and does not
    change the output beyond rounding. "auto": 1,024 on a CPU, the fastest there in
    ``benchmarks/inference_throughput.py``; 16,384 on a GPU, where a measurement on an H100
    found 2.4 times the rate of 1,024.""",
    "event_layout": """\
layout : {"adc2021", "tabular"} or EventLayout, default="adc2021"
    How to read events: ``"adc2021"`` takes the ADC2021 ``Particles`` array (n, 19, 4), the
    same without the class column (n, 19, 3), or either flattened (n, 76) or (n, 57).
    ``"tabular"`` takes any 2D array, each column one scalar object of its own type.""",
    "input_columns": """\
n_features_in_ : int
    Number of input columns seen in fit, after flattening 3D input.
feature_names_in_ : ndarray of shape (n_features_in,)
    Input column names, when X was a DataFrame with string column names.""",
    "save_to": """\
path : str or path-like
    Directory to create. Written atomically: a failed save leaves nothing behind.
overwrite : bool, default=False
    Replace an existing directory at ``path``.""",
    "return_thresholds": """\
return_thresholds : bool, default=False
    Also return the score thresholds of the points.""",
    "labels_and_score": """\
y_true : array-like of shape (n_samples,)
    1 for signal, 0 for background.
score : array-like of shape (n_samples,)
    Anomaly score, higher for more anomalous events.""",
    "precision": """\
precision : {"float32", "bfloat16", "float16"}, default="float32"
    Precision of the network's forward passes in training and inference, through
    ``torch.autocast``: bfloat16 or float16 roughly halve memory and run faster on GPUs
    with tensor cores (float16 training adds gradient scaling). Outputs stay float32.""",
    "compile": """\
compile : bool or dict, default=False
    Compile the network with ``torch.compile`` (through skorch's ``compile``) for training
    and inference. True uses torch.compile's defaults; a dict passes its items on, for
    example ``{"mode": "reduce-overhead"}`` for CUDA graphs on a GPU or ``{"dynamic": True}``
    for batches of changing shape. The first batches then wait for the compiler (seconds to
    minutes; a later fit of the same shapes in the process reuses the compiled code), so it
    pays on long fits and large inference jobs, mostly on GPUs. The compiled network computes
    what the eager one does, to rounding; in training, dropout draws its masks from the
    compiler's random stream instead of torch's, so a compiled fit and an eager fit of one
    seed differ as two seeds do, while the same seed and settings repeat their result. It
    applies to nets that ``fit`` builds: a warm start continues its net as it is.""",
    "checkpoint": """\
checkpoint : str or path-like, default=None
    A directory where ``fit`` keeps its resumable training state, written atomically after
    every epoch. A fit started again with the same parameters (``max_epochs``, ``device``,
    ``verbose``, ``callbacks`` and ``inference_batch_size`` may differ) and the same data
    resumes from it and ends with the model that an uninterrupted fit gives; a checkpoint of
    another fit is refused with an error that names the difference. During such a fit,
    SIGTERM lets the current batch finish, writes the checkpoint there, and then ends the
    process as it would have: a preempted batch job goes on from the next batch. The file is
    a pickle: resume only from checkpoints your own jobs wrote. See "Reliability" in the
    documentation.""",
    "verbose": """\
verbose : int, default=0
    0 is silent; 1 reports each epoch's losses in one plain line, through
    ``logging.getLogger("sklearn_aclr")`` at INFO where logging is configured for it, printed
    otherwise; 2 adds a progress bar when the output is a terminal.""",
    "training_attributes": """\
device_ : str
    The device training ran on.
loss_curve_ : ndarray of shape (n_epochs,)
    Training loss per epoch.
validation_loss_curve_ : ndarray of shape (n_epochs,) or None
    Validation loss per epoch; None without early stopping.
n_epochs_ : int
    Number of epochs trained.""",
}

_PLACEHOLDER = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", re.MULTILINE)


def fill_doc(obj):
    """Replace the ``%(name)s`` lines of ``obj.__doc__`` by the pieces of :data:`DOCS`."""
    if obj.__doc__:  # None under python -OO

        def piece(match):
            indent, name = match.groups()
            return "\n".join(indent + line if line else line
                             for line in DOCS[name].splitlines())

        obj.__doc__ = _PLACEHOLDER.sub(piece, obj.__doc__)
    return obj


def documentation_url():
    """The root of the hosted documentation, without a trailing slash; "" where none is known.

    ``SKLEARN_ACLR_DOCS_URL`` if set (for example the address of a copy of the built docs on
    a lab's own server), else the ``Documentation`` URL in the installed package's metadata
    (``[project.urls]`` of ``pyproject.toml``).

    Examples
    --------
    >>> import os
    >>> from sklearn_aclr._docs import documentation_url
    >>> os.environ["SKLEARN_ACLR_DOCS_URL"] = "https://docs.example.org/sklearn-aclr/"
    >>> documentation_url()
    'https://docs.example.org/sklearn-aclr'
    >>> del os.environ["SKLEARN_ACLR_DOCS_URL"]
    """
    url = os.environ.get("SKLEARN_ACLR_DOCS_URL")
    return (_declared_documentation_url() if url is None else url).strip().rstrip("/")


@functools.cache
def _declared_documentation_url():
    """The ``Documentation`` project URL of the installed package; "" where it has none."""
    try:
        entries = metadata.metadata("sklearn-aclr").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        entries = []
    urls = dict(entry.split(",", 1) for entry in entries if "," in entry)
    return next((link for label, link in urls.items()
                 if label.strip().lower() == "documentation"), "")


class DocLinkMixin:
    """Links an estimator's HTML diagram (in Jupyter) to its page of the API reference.

    scikit-learn draws the "?" link of each step from ``_doc_link_module``,
    ``_doc_link_template`` and ``_doc_link_url_param_generator``, its documented interface
    for estimators of other packages. The page is that of the name the user imports: the
    API reference documents ``sklearn_aclr.EventScaler`` rather than the module the class
    lives in. Where :func:`documentation_url` knows no root, the diagram shows no link.

    Examples
    --------
    >>> import os
    >>> from sklearn_aclr import EventScaler
    >>> os.environ["SKLEARN_ACLR_DOCS_URL"] = "https://docs.example.org/sklearn-aclr"
    >>> EventScaler()._get_doc_link()
    'https://docs.example.org/sklearn-aclr/generated/sklearn_aclr.EventScaler.html'
    >>> del os.environ["SKLEARN_ACLR_DOCS_URL"]
    """

    _doc_link_module = "sklearn_aclr"

    @property
    def _doc_link_template(self):
        if "_doc_link_template_set" in vars(self):  # set on the instance, as scikit-learn allows
            return vars(self)["_doc_link_template_set"]
        root = documentation_url()
        return f"{root}/generated/{{name}}.html" if root else ""

    @_doc_link_template.setter
    def _doc_link_template(self, value):
        vars(self)["_doc_link_template_set"] = value

    def _doc_link_url_param_generator(self):
        cls = type(self)
        package = sys.modules[self._doc_link_module]  # imported, since cls belongs to it
        if cls.__name__ in getattr(package, "__all__", ()):
            return {"name": f"{package.__name__}.{cls.__name__}"}
        public = [part for part in cls.__module__.split(".") if not part.startswith("_")]
        return {"name": ".".join([*public, cls.__name__])}
