"""The skorch callbacks every training run of the package uses."""

import logging
from copy import deepcopy

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import get_len


class FiniteLoss(Callback):
    """Stop training with a clear error at the end of an epoch in which a batch's loss was NaN
    or infinite.

    The check reads the batch losses from the history once per epoch, so that no training
    step waits for the device to report its loss.
    """

    def on_epoch_end(self, net, **kwargs):
        for stage in ("train", "valid"):
            for batch in net.history[-1]["batches"]:
                loss = batch.get(f"{stage}_loss")
                if loss is not None and not np.isfinite(loss):
                    stage_name = "training" if stage == "train" else "validation"
                    raise FloatingPointError(
                        f"The {stage_name} loss became {loss} in epoch {len(net.history)}, "
                        f"so training stopped. Try a lower lr (now {net.lr}), look for "
                        "extreme values in the training events, or refit with another "
                        "random_state."
                    )


class ResumableEarlyStopping(EarlyStopping):
    """skorch's EarlyStopping, whose state survives a warm-started continuation.

    At the end of training it keeps the last weights (before restoring the best), so that a
    continued fit starts where the previous one stopped, and a continued fit keeps the best
    score and the count of epochs without improvement.
    """

    def on_train_begin(self, net, **kwargs):
        if getattr(net, "resuming_", False) and hasattr(self, "misses_"):
            if getattr(self, "last_weights_", None) is not None:
                # skorch leaves the best weights out of pickles, since the module holds them
                # at the end of training: take them back from the module before it moves on.
                if self.best_model_weights_ is None and self.load_best:
                    self.best_model_weights_ = deepcopy(net.module_.state_dict())
                net.module_.load_state_dict(self.last_weights_)
            return
        super().on_train_begin(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        self.last_weights_ = deepcopy(net.module_.state_dict())
        super().on_train_end(net, **kwargs)

    @property
    def stopped(self):
        return getattr(self, "misses_", 0) >= self.patience


LOGGER = logging.getLogger("sklearn_aclr")


class EpochLog(Callback):
    """One plain line per epoch, in place of skorch's coloured table.

    ``epoch 3: train_loss 0.4213, valid_loss 0.4550 (best), 1.3 s``. The line goes to
    ``logging.getLogger("sklearn_aclr")`` at INFO where that logger is enabled for INFO (an
    application configured logging), and to ``sink`` otherwise (``print``), so that
    ``verbose=1`` shows it out of the box. No colour codes, no cursor movements: a redirected
    log stays readable.

    Parameters
    ----------
    sink : callable, default=print
        Receives the line where logging does not; as skorch's PrintLog, whose place it takes
        (Accelerate's mixin sets it so that only the main process prints).
    """

    def __init__(self, sink=print):
        self.sink = sink

    def on_epoch_end(self, net, **kwargs):
        if not net.verbose:
            return
        row = net.history[-1]
        parts = []
        for key in ("train_loss", "valid_loss"):
            if key in row:
                best = " (best)" if key == "valid_loss" and row.get("valid_loss_best") else ""
                parts.append(f"{key} {row[key]:.4f}{best}")
        message = f"epoch {row['epoch']}: {', '.join(parts)}, {row.get('dur', 0.0):.1f} s"
        if LOGGER.isEnabledFor(logging.INFO) and LOGGER.hasHandlers():
            LOGGER.info(message)
        else:
            self.sink(message)


class DeferredLossMixin:
    """A skorch net that reads its batch losses back from the device once per epoch.

    skorch's ``run_single_epoch`` records each batch's loss with ``loss.item()``, which makes
    the host wait for every step to finish. This one records the loss tensors, and replaces
    them by floats at the end of the loop, before any ``on_epoch_end`` callback reads the
    history: the history holds the same floats as skorch's, and a GPU runs the steps of an
    epoch back to back. A callback that reads a batch's loss during the epoch (a progress
    bar, a per-batch scheduler) gets the tensor, and waits for it only if it needs its value.
    """

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        batches = iter(self._start_epoch_order(iterator) if training else iterator)
        position = getattr(self, "resume_position_", None) if training else None
        done = 0
        if position is not None:  # an epoch cut short by SIGTERM: skip the batches done
            done = position["batches"]
            for _ in range(done):
                next(batches)
            self.resume_position_ = None
        key = f"{prefix}_loss"
        first = len(self.history[-1]["batches"])
        losses = []
        for batch in batches:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            # A copy: a detached alias keeps the loss tensor, and with it the step's graph,
            # alive until the end of the epoch (measured: megabytes per batch).
            losses.append(step["loss"].detach().clone())
            self.history.record_batch(key, losses[-1])
            batch_size = get_len(batch[0]) if isinstance(batch, (tuple, list)) else get_len(batch)
            self.history.record_batch(f"{prefix}_batch_size", batch_size)
            self.notify("on_batch_end", batch=batch, training=training, **step)
        values = torch.stack(losses).float().tolist() if losses else []  # the one sync
        for row, value in zip(self.history[-1]["batches"][first:], values):
            row[key] = value
        self.history.record(f"{prefix}_batch_count", done + len(losses))

    def _start_epoch_order(self, iterator):
        """Keep the states of the generators that order this epoch's batches (the
        DataLoader's and its sampler's) in ``epoch_order_state_``, or, continuing an epoch
        cut short, set them back to those states so that the epoch's order repeats."""
        generators = []
        for generator in (getattr(iterator, "generator", None),
                          getattr(getattr(iterator, "sampler", None), "generator", None)):
            if isinstance(generator, torch.Generator) and all(generator is not g
                                                               for g in generators):
                generators.append(generator)
        if getattr(self, "resume_position_", None) is not None:
            for generator, state in zip(generators, self.epoch_order_state_):
                generator.set_state(state)
        else:
            self.epoch_order_state_ = [generator.get_state() for generator in generators]
        return iterator


class PlainLogMixin:
    """A skorch net whose epoch summaries are :class:`EpochLog` lines instead of PrintLog's
    table (through skorch's public ``get_default_callbacks``)."""

    def get_default_callbacks(self):
        return [(name, EpochLog() if name == "print_log" else callback)
                for name, callback in super().get_default_callbacks()]
