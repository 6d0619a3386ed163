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
from skorch.hf import AccelerateMixin

from sklearn_aclr._nets import AnomalyCLRNet, AutoEncoderNet

try:  # the [dask] extra; Client.register_plugin recognises worker plugins by their base class
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - exercised where dask is not installed
    _WorkerPlugin = object

__all__ = [
    "AcceleratedAnomalyCLRNet",
    "AcceleratedAutoEncoderNet",
    "TorchThreads",
    "accelerated_net_class",
]


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


class AcceleratedAnomalyCLRNet(AccelerateMixin, AnomalyCLRNet):
    """:class:`~sklearn_aclr._nets.AnomalyCLRNet` trained data-parallel through skorch's
    ``AccelerateMixin``; takes an ``accelerator`` argument. The contrastive criterion is a plain
    callable, so Accelerate prepares only the encoder and the optimiser."""


class AcceleratedAutoEncoderNet(AccelerateMixin, AutoEncoderNet):
    """:class:`~sklearn_aclr._nets.AutoEncoderNet` trained data-parallel through skorch's
    ``AccelerateMixin``; takes an ``accelerator`` argument."""


_ACCELERATED = {AnomalyCLRNet: AcceleratedAnomalyCLRNet,
                AutoEncoderNet: AcceleratedAutoEncoderNet}


def accelerated_net_class(net_class):
    """The data-parallel counterpart of one of the package's skorch nets.

    Parameters
    ----------
    net_class : type
        ``AnomalyCLRNet`` or ``AutoEncoderNet``.

    Returns
    -------
    type
        The subclass with skorch's ``AccelerateMixin`` in front, which takes an
        ``accelerator`` argument.

    Examples
    --------
    >>> from sklearn_aclr._nets import AnomalyCLRNet
    >>> from sklearn_aclr.distributed import accelerated_net_class
    >>> accelerated_net_class(AnomalyCLRNet).__name__
    'AcceleratedAnomalyCLRNet'
    """
    try:
        return _ACCELERATED[net_class]
    except KeyError:
        raise ValueError(f"No data-parallel counterpart of {net_class!r}; expected one of "
                         f"{[cls.__name__ for cls in _ACCELERATED]}.") from None
