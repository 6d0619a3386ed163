"""Scaling out: torch threads on Dask workers, and data-parallel training through Accelerate.

Model selection on a cluster
    scikit-learn's ``GridSearchCV``/``RandomizedSearchCV`` parallelise through joblib, and
    joblib runs on a Dask cluster with ``joblib.parallel_backend("dask")`` (the ``[dask]``
    extra). Each fit then runs in a Dask worker; :class:`TorchThreads` caps the threads torch
    uses there, so that several workers on one node do not oversubscribe its cores. For GPUs,
    start one single-threaded worker per GPU, each seeing its own device
    (``CUDA_VISIBLE_DEVICES``); ``device="auto"`` then picks it. See the user guide.

Data-parallel training
    ``AnomalyCLRTransformer(accelerator=Accelerator())`` trains through skorch's
    ``AccelerateMixin`` (the ``[accelerate]`` extra): started with ``accelerate launch``, every
    process trains on its share of each epoch's batches and the gradients are averaged, on
    several GPUs or nodes (or CPU processes). Negatives of the contrastive loss come from the
    process's own batch.
"""

import torch

try:  # the [dask] extra; Client.register_plugin recognises worker plugins by their base class
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - exercised where dask is not installed
    _WorkerPlugin = object

__all__ = ["TorchThreads", "accelerated_net_class"]


class TorchThreads(_WorkerPlugin):
    """A Dask worker plugin that caps torch's threads in every worker.

    Parameters
    ----------
    n_threads : int, default=1
        Threads for torch's intra-op parallelism in each worker; set it to the worker's
        ``threads_per_worker`` share of the cores.

    Examples
    --------
    >>> from sklearn_aclr.distributed import TorchThreads
    >>> plugin = TorchThreads(2)
    >>> plugin.name
    'sklearn-aclr-torch-threads'

    On a cluster (needs the ``[dask]`` extra)::

        from distributed import Client
        client = Client(scheduler_address)
        client.register_plugin(TorchThreads(1))
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
    """

    name = "sklearn-aclr-torch-threads"

    def __init__(self, n_threads=1):
        self.n_threads = n_threads

    def setup(self, worker=None):
        """Set torch's thread count in the worker that starts."""
        torch.set_num_threads(self.n_threads)

    def teardown(self, worker=None):
        """Nothing to undo when the worker stops."""

    def transition(self, key, start, finish, **kwargs):
        """Task transitions do not concern this plugin."""


def accelerated_net_class(net_class):
    """``net_class`` with skorch's ``AccelerateMixin`` in front, for data-parallel training.

    Parameters
    ----------
    net_class : type
        A skorch net class of this package.

    Returns
    -------
    type
        A subclass that takes an ``accelerator`` argument.
    """
    try:
        from skorch.hf import AccelerateMixin
    except ImportError as exc:  # pragma: no cover - skorch always has it
        raise ImportError("Data-parallel training needs skorch.hf.AccelerateMixin.") from exc
    return _ACCELERATED.setdefault(
        net_class, type(f"Accelerated{net_class.__name__}",
                        (_PrepareTrainableOnly, AccelerateMixin, net_class),
                        {"__module__": __name__})
    )


class _PrepareTrainableOnly:
    """Hand the accelerator only the modules and criteria that have trainable parameters:
    DistributedDataParallel refuses a parameter-free module such as the contrastive loss."""

    def _initialize_accelerator(self):
        criteria = self._criteria
        self._criteria = [
            name for name in criteria
            if any(p.requires_grad for p in getattr(self, name + "_").parameters())
        ]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria


_ACCELERATED = {}


def __getattr__(name):
    # The generated classes are found by name when pickled nets are loaded.
    for cls in _ACCELERATED.values():
        if cls.__name__ == name:
            return cls
    if name.startswith("Accelerated"):
        from sklearn_aclr import _nets

        base = getattr(_nets, name[len("Accelerated"):], None)
        if base is not None:
            return accelerated_net_class(base)
    raise AttributeError(name)
