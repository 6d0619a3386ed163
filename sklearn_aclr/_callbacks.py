"""The skorch callbacks every training run of the package uses."""

from copy import deepcopy

import torch
from skorch.callbacks import Callback, EarlyStopping


class FiniteLoss(Callback):
    """Stop training with a clear error as soon as a batch's loss is NaN or infinite."""

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if loss is not None and not torch.isfinite(loss).all():
            stage = "training" if training else "validation"
            raise FloatingPointError(
                f"The {stage} loss became {loss.item()} in epoch {len(net.history)}, so "
                f"training stopped. Try a lower lr (now {net.lr}), look for extreme values in "
                "the training events, or refit with another random_state."
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
