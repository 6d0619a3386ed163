"""Run by tests/test_precision.py under torchrun: callbacks in data-parallel training.

The GradientRecorder callback serves the single-process tests as well.

Each process trains a tiny encoder through Accelerate with gradient clipping between two
recorders of the gradient norm, and writes what its recorders saw to ``process<rank>.json``.
"""

import json
import sys
from pathlib import Path

import torch
from skorch.callbacks import Callback


class GradientRecorder(Callback):
    """Records the gradient norm each on_grad_computed sees, and which hooks ran."""

    def initialize(self):
        self.norms, self.hooks = [], set()
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.hooks.add("on_grad_computed")
        grads = [p.grad.detach().float() for _, p in named_parameters if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads]))))

    def on_batch_end(self, net, **kwargs):
        self.hooks.add("on_batch_end")

    def on_epoch_end(self, net, **kwargs):
        self.hooks.add("on_epoch_end")


def main(output):
    import numpy as np
    from accelerate import Accelerator
    from skorch.callbacks import GradientNormClipping

    from sklearn_aclr import AnomalyCLRTransformer
    from sklearn_aclr.datasets import make_adc_events

    accelerator = Accelerator()
    X = make_adc_events(400, random_state=0)[0]
    clr = AnomalyCLRTransformer(
        d_model=16, n_heads=2, n_layers=1, dim_feedforward=32, output_dim=8, batch_size=64,
        max_epochs=2, early_stopping=False, random_state=0, accelerator=accelerator,
        callbacks=[("before", GradientRecorder()), ("clip", GradientNormClipping(1e-3)),
                   ("after", GradientRecorder())],
    ).fit(X)
    recorded = dict(clr.net_.callbacks_)
    report = {name: {"hooks": sorted(recorded[name].hooks), "norms": recorded[name].norms}
              for name in ("before", "after")}
    report["n_processes"] = accelerator.num_processes
    report["finite_loss"] = bool(np.isfinite(clr.loss_curve_).all())
    path = Path(output) / f"process{accelerator.process_index}.json"
    path.write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
