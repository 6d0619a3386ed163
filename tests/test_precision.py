"""Mixed precision keeps skorch's training hooks: callbacks see true, clippable gradients."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny import TINY_ENCODER
from distributed_callbacks import GradientRecorder
from skorch.callbacks import GradientNormClipping

from sklearn_aclr import AnomalyCLRTransformer

SMALL = dict(TINY_ENCODER, max_epochs=2, device="cpu", random_state=0)
CLIP = 1e-3


@pytest.mark.parametrize("precision", ["float32", "bfloat16", "float16"])
def test_gradient_clipping_and_callbacks_act_in_every_precision(background, precision):
    before, after = GradientRecorder(), GradientRecorder()
    clr = AnomalyCLRTransformer(
        **SMALL, precision=precision,
        callbacks=[("before", before), ("clip", GradientNormClipping(CLIP)), ("after", after)],
    ).fit(background)
    recorded = dict(clr.net_.callbacks_)
    before, after = recorded["before"], recorded["after"]
    assert before.hooks == after.hooks == {"on_grad_computed", "on_batch_end", "on_epoch_end"}
    n_steps = 2 * int(np.ceil(0.9 * len(background) / 64))
    assert len(before.norms) == len(after.norms) == n_steps
    # The gradients are true ones (float16's loss scale removed) and clipping changed them.
    # In float16 the first steps overflow at the scaler's initial scale: it skips them.
    finite = np.isfinite(before.norms)
    assert finite.mean() > 0.8
    assert np.median(np.asarray(before.norms)[finite]) > 10 * CLIP
    assert np.asarray(after.norms)[finite].max() <= CLIP * 1.01


@pytest.mark.slow
def test_gradient_clipping_and_callbacks_act_in_distributed_training(tmp_path):
    pytest.importorskip("accelerate")
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    script = Path(__file__).parent / "distributed_callbacks.py"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", str(script), str(tmp_path)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for rank in (0, 1):
        report = json.loads((tmp_path / f"process{rank}.json").read_text())
        assert report["n_processes"] == 2 and report["finite_loss"]
        before, after = report["before"], report["after"]
        hooks = ["on_batch_end", "on_epoch_end", "on_grad_computed"]
        assert before["hooks"] == after["hooks"] == hooks
        assert len(before["norms"]) == len(after["norms"]) > 0
        assert np.median(before["norms"]) > 10 * CLIP
        assert max(after["norms"]) <= CLIP * 1.01
