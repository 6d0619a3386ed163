"""Scale: reduced precision, GPUs, model selection on a Dask cluster, data-parallel training."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _tiny import TINY_ENCODER
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
from sklearn_aclr._torch_utils import to_device
from sklearn_aclr.datasets import make_adc_events
from sklearn_aclr.metrics import anomaly_auc_scorer
from sklearn_aclr.model_selection import BackgroundKFold

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(TINY_ENCODER, max_epochs=2, random_state=0)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_trains_and_returns_float32(background, precision):
    clr = AnomalyCLRTransformer(**SMALL, precision=precision, device="cpu").fit(background)
    Z = clr.transform(background)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert np.isfinite(clr.loss_curve_).all()
    reference = AnomalyCLRTransformer(**SMALL, device="cpu").fit(background)
    assert not np.array_equal(Z, reference.transform(background))  # autocast did act
    scorer = AutoEncoderScorer(max_epochs=2, precision=precision, device="cpu",
                               random_state=0).fit(Z)
    assert np.isfinite(scorer.score_samples(Z)).all()


class _HostSyncs(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the operations that make the host wait for the device: reading a value
    (``item``), ``nonzero``, and indexing with a boolean mask."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split(".")[0]
        boolean_index = name in ("index", "index_put", "index_put_") and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] or ()))
        if name in ("_local_scalar_dense", "nonzero", "masked_select") or boolean_index:
            self.names.append(name)
        return func(*args, **(kwargs or {}))


def test_the_gpu_training_step_never_waits_for_the_device(background, monkeypatch):
    """The step as it runs on a GPU (fixed-shape encoder, fused AdamW), checked on the CPU:
    no host synchronisation inside an epoch, one at its end to read the losses back."""
    from sklearn_aclr._base import BaseNetEstimator
    from sklearn_aclr.nn import AnomalyCLREncoder

    training_kwargs = BaseNetEstimator._training_kwargs
    monkeypatch.setattr(BaseNetEstimator, "_training_kwargs", lambda self, *a, **k: {
        **training_kwargs(self, *a, **k), "optimizer__fused": True})
    monkeypatch.setattr(AnomalyCLREncoder, "packing", False)
    for epochs in (1, 3):
        syncs = _HostSyncs()
        with syncs:
            AnomalyCLRTransformer(**{**SMALL, "max_epochs": epochs, "batch_size": 32},
                                  early_stopping=False, device="cpu").fit(background)
        assert len(syncs.names) == epochs, syncs.names


def test_accelerator_settings_that_cannot_work_are_refused(background):
    accelerate = pytest.importorskip("accelerate")
    accelerator = accelerate.Accelerator(cpu=True)
    with pytest.raises(ValueError, match="early_stopping=False"):
        AnomalyCLRTransformer(**SMALL, accelerator=accelerator).fit(background)
    with pytest.raises(ValueError, match="mixed_precision='bf16'"):
        AnomalyCLRTransformer(**SMALL, accelerator=accelerator, early_stopping=False,
                              precision="bfloat16").fit(background)


# --- GPU (run where torch sees CUDA) ----------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["float32", "bfloat16", "float16"])
def test_training_and_inference_on_the_gpu(background, tmp_path, precision):
    clr = AnomalyCLRTransformer(**SMALL, device="cuda", precision=precision).fit(background)
    assert clr.device_.startswith("cuda")
    assert next(clr.net_.module_.parameters()).is_cuda
    Z = clr.transform(background)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    # augmentations ran on the device: their generators live there
    assert all(g.device.type == "cuda" for g in clr.net_.generators_.values())
    loaded = AnomalyCLRTransformer.load(clr.save(tmp_path / "clr"), device="cpu")
    np.testing.assert_allclose(loaded.transform(background), Z, rtol=1e-2, atol=1e-2)


@pytest.mark.gpu
def test_training_data_lives_on_the_gpu_and_host_batches_are_pinned():
    from sklearn_aclr._nets import EventDataset, collate_events, on_device

    x = to_device(np.ones((4, 19, 4), dtype=np.float32), "cuda")
    assert x.is_cuda
    X = make_adc_events(200, random_state=0)[0]
    resident = on_device(X, "cuda")
    assert isinstance(resident, torch.Tensor) and resident.is_cuda
    events, _ = collate_events(EventDataset(resident).__getitems__([3, 1]), pin_memory=True)
    assert events.is_cuda  # gathered on the device
    events, _ = collate_events(EventDataset(X).__getitems__([3, 1]), pin_memory=True)
    assert events.is_pinned()  # read from the host: pinned for a copy that does not block
    clr = AnomalyCLRTransformer(**SMALL, device="cuda").fit(X)
    assert clr.net_.iterator_train__collate_fn.keywords["pin_memory"]


@pytest.mark.gpu
def test_the_same_seed_gives_the_same_model_on_the_gpu(background):
    first = AnomalyCLRTransformer(**SMALL, device="cuda").fit(background)
    second = AnomalyCLRTransformer(**SMALL, device="cuda").fit(background)
    np.testing.assert_allclose(first.loss_curve_, second.loss_curve_, rtol=1e-5)


# --- model selection on a Dask cluster --------------------------------------------------------

@pytest.mark.slow
def test_grid_search_on_a_dask_cluster_equals_n_jobs_1(labelled):
    distributed = pytest.importorskip("distributed")
    import joblib

    from sklearn_aclr.distributed import TorchThreads

    X, y = labelled
    pipeline = make_pipeline(EventScaler(), AutoEncoderScorer(
        hidden_layer_sizes=(16,), max_epochs=3, device="cpu", random_state=0))
    search = GridSearchCV(pipeline, {"autoencoderscorer__latent_dim": [2, 4]},
                          cv=BackgroundKFold(2), scoring=anomaly_auc_scorer, refit=False)
    serial = search.set_params(n_jobs=1).fit(X, y).cv_results_["split0_test_score"]

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.register_plugin(TorchThreads(1))
        assert set(client.run(torch.get_num_threads).values()) == {1}
        with joblib.parallel_backend("dask"):
            on_cluster = search.set_params(n_jobs=-1).fit(X, y).cv_results_
    np.testing.assert_array_equal(on_cluster["split0_test_score"], serial)


@pytest.mark.slow
def test_grid_search_survives_a_killed_dask_worker(labelled):
    """A worker process killed (SIGKILL) in the middle of the search: the nanny restarts it,
    the scheduler runs its lost tasks again, and the search ends with the results (and the
    best parameters) of a serial one.

    As the user guide says, the data must not live on one worker alone: joblib's Dask backend
    puts each large argument on one worker, where a kill loses it for good (the search then
    fails with FutureCancelledError). The recipe: X and y broadcast to every worker
    (``scatter=[X, y]``), the splits as lists, which joblib sends with each task."""
    distributed = pytest.importorskip("distributed")
    import signal
    import threading
    import time

    import joblib

    from sklearn_aclr.distributed import TorchThreads

    X, y = labelled
    pipeline = make_pipeline(EventScaler(), AutoEncoderScorer(
        hidden_layer_sizes=(16,), max_epochs=40, early_stopping=False, device="cpu",
        random_state=0))
    grid = {"autoencoderscorer__latent_dim": [2, 4, 8]}
    splits = [(train.tolist(), test.tolist()) for train, test in BackgroundKFold(2).split(X, y)]
    search = GridSearchCV(pipeline, grid, cv=splits, scoring=anomaly_auc_scorer, refit=False)
    serial = search.set_params(n_jobs=1).fit(X, y).cv_results_

    killed = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.register_plugin(TorchThreads(1))
        pids = client.run(os.getpid)

        def kill_a_busy_worker():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [address for address, keys in client.processing().items() if keys]
                if busy:
                    time.sleep(0.1)  # into the task
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        with joblib.parallel_backend("dask", scatter=[X, y]):
            on_cluster = search.set_params(n_jobs=-1).fit(X, y).cv_results_
        killer.join()
        assert killed, "no worker was busy to be killed"
        assert pids[killed[0]] not in client.run(os.getpid).values()  # it died, and was replaced
    for key in ("split0_test_score", "split1_test_score", "rank_test_score"):
        np.testing.assert_array_equal(on_cluster[key], serial[key])


# --- data-parallel training with Accelerate ---------------------------------------------------

@pytest.mark.slow
def test_two_processes_train_one_model(tmp_path):
    pytest.importorskip("accelerate")
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", str(ROOT / "examples" / "distributed_training.py"),
               "--n-events", "600", "--epochs", "2", "--small", "--output", str(tmp_path)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    reports = [json.loads((tmp_path / f"process{i}.json").read_text()) for i in (0, 1)]
    assert [r["n_processes"] for r in reports] == [2, 2]
    # The gradients were averaged: both processes end with the same weights ...
    assert reports[0]["weights_sum"] == reports[1]["weights_sum"]
    # ... after training on different shares of the events.
    assert reports[0]["loss_curve"] != reports[1]["loss_curve"]
    model = AnomalyCLRTransformer.load(tmp_path / "model")
    events = make_adc_events(50, random_state=1)[0]
    assert np.isfinite(model.transform(events)).all()
