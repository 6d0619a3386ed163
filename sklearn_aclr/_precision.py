"""Mixed precision for the package's skorch nets: autocast forward passes, and for float16 a
gradient scaler that keeps skorch's callbacks working on true gradients."""

import torch
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from sklearn_aclr._torch_utils import autocast


class MixedPrecisionMixin:
    """Forward passes under autocast, in ``precision``; float16 training adds a GradScaler.

    The nets' outputs, and so the losses, are float32 whatever the precision. In float16 the
    loss is scaled before ``backward`` and the gradients are unscaled right after, so that
    ``on_grad_computed`` callbacks (``GradientNormClipping`` among them) see and change the
    true gradients, as in PyTorch's recipe for clipping with a GradScaler; the scaler then
    takes the optimiser step, skipping it when a gradient overflowed.
    """

    precision = "float32"

    def _device(self):
        """Where tensors go: ``device``, or the accelerator's in distributed training."""
        accelerator = getattr(self, "accelerator", None)
        return accelerator.device if accelerator is not None else self.device

    def _autocast(self):
        return autocast(self._device(), self.precision)

    def _grad_scaler(self):
        if self.precision != "float16":
            return None
        if "grad_scaler_" not in self.__dict__:
            self.grad_scaler_ = torch.amp.GradScaler(torch.device(self._device()).type)
        return self.grad_scaler_

    def train_step_single(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        scaler.unscale_(self.optimizer_)
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step(batch, **fit_params)
        # skorch's own train_step hands the step to optimizer.step(closure), which a scaler
        # cannot drive; this is the same step with the scaler in charge of the update.
        self.optimizer_.zero_grad()
        step = self.train_step_single(batch, **fit_params)
        self.notify("on_grad_computed",
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch, training=True)
        scaler.step(self.optimizer_)
        scaler.update()
        return step
