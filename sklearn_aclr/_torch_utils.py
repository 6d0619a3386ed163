"""Torch plumbing the estimators share: devices, seeding, precision and batched inference.

Nothing here knows skorch; the skorch nets (``_nets.py``) and the estimators build on it.
"""

from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
READ_BLOCK = 65536  # events read at once when apply_in_batches sorts them


def to_device(x, device):
    """An array or tensor on ``device``; host memory is pinned and copied without blocking
    when the device is a GPU, so the copy overlaps with the work already queued there."""
    tensor = torch.as_tensor(x)
    if torch.device(device).type == "cuda":
        if not tensor.is_cuda:
            tensor = tensor.pin_memory()
        return tensor.to(device, non_blocking=True)
    return tensor.to(device)


def autocast(device, precision):
    """``torch.autocast`` for ``precision`` ("float32" disables it) on ``device``'s type."""
    dtype = PRECISIONS[precision]
    return torch.autocast(torch.device(device).type, dtype=dtype or torch.float32,
                          enabled=dtype is not None)


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when a GPU is visible, else ``"cpu"``; check the others."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA device (torch "
            f"{torch.__version__}). Use device='auto' to fall back to the CPU."
        )
    return str(resolved)


def torch_seed(random_state):
    """One integer seed for torch, drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def seeded(seed, device, state=None):
    """Run a block under torch's global RNG seeded with ``seed``, restoring it afterwards.

    Weight initialisation and dropout draw from the global RNG; forking it keeps ``fit`` from
    changing the user's random stream and makes the same seed give the same model. ``state``
    (a ``final_state`` of an earlier block) continues that block's stream instead of seeding.
    Yields a dict whose ``"final_state"`` holds the RNG state at the end of the block.
    """
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        if state is None:
            torch.manual_seed(seed)
        else:
            torch.set_rng_state(state["cpu"])
            if cuda and state.get("cuda") is not None:
                torch.cuda.set_rng_state(state["cuda"], cuda[0])
        box = {}
        yield box
        box["final_state"] = global_rng_state(device)


def global_rng_state(device):
    """torch's global random state now: the CPU's, and ``device``'s where it is a GPU; the
    ``state`` that :func:`seeded` continues from."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device.index or 0) if cuda else None}


def unwrapped(module):
    """The module itself, out of a DistributedDataParallel wrapper (Accelerate's)."""
    return module.module if isinstance(module, torch.nn.parallel.DistributedDataParallel) \
        else module


def original_module(module):
    """The module as built: out of a DistributedDataParallel wrapper and out of torch.compile's
    (whose state dict prefixes every name with ``_orig_mod.``)."""
    module = unwrapped(module)
    return getattr(module, "_orig_mod", module)


def apply_in_batches(module, X, fn, *, batch_size, device, on_batch=None, precision="float32",
                     sort_key=None):
    """``fn(module, x_batch)`` over ``X`` in batches without autograd; returns a numpy array.

    ``X`` is an array or anything sliced like one, such as an ADC2021Stream. Memory stays
    bounded by ``batch_size`` (and, with ``sort_key``, by a read block) whatever the size of
    ``X``. ``on_batch(batch)``, if given, sees each numpy batch first (to summarise or check
    the input in the same pass). The module runs under autocast in ``precision``; the output
    is float32, in the order of ``X``.

    ``sort_key(events)``, if given, orders the events of each read block (``READ_BLOCK``
    events) before they are cut into batches, and the outputs are put back in place: with
    events sorted by their number of objects, each batch of the packed encoder is padded to
    hardly more than its own events need (2.2 times the events per second on two CPU
    cores).

    Each batch's output is copied into one preallocated host array; on a GPU the array is
    pinned and the copies do not block, so the host never waits for a batch to finish and
    synchronises once, at the end.
    """
    module.eval()
    cuda = torch.device(device).type == "cuda"
    result = None
    block_size = READ_BLOCK if sort_key is not None else batch_size
    with torch.inference_mode():
        for block_start in range(0, len(X), block_size):
            block = np.asarray(X[block_start : block_start + block_size])
            order = None if sort_key is None else np.argsort(sort_key(block), kind="stable")
            for start in range(0, len(block), batch_size):
                rows = slice(start, start + batch_size) if order is None \
                    else order[start : start + batch_size]
                batch = block[rows]
                if on_batch is not None:
                    on_batch(batch)
                with autocast(device, precision):
                    output = fn(module, to_device(batch, device)).float()
                if result is None:
                    result = torch.empty((len(X), *output.shape[1:]), dtype=torch.float32,
                                         pin_memory=cuda)
                if order is None:
                    first = block_start + start
                    result[first : first + len(output)].copy_(output, non_blocking=cuda)
                else:
                    result[torch.from_numpy(block_start + rows)] = output.to("cpu")
    if result is None:
        return np.empty((0,), dtype=np.float32)
    if cuda:
        torch.cuda.synchronize(device)
    return result.numpy()
