"""A training job for the checkpoint tests, run as a subprocess that the tests kill.

``python checkpoint_job.py DIRECTORY OUT [FAULT]`` fits a tiny AnomalyCLRTransformer with
``checkpoint=DIRECTORY`` and saves its representations of the training events to ``OUT``
(a .npy file). FAULT makes the job kill itself with SIGKILL inside the checkpoint write of
epoch N: ``before-rename:N`` (the new file complete, not yet renamed) or ``mid-write:N``
(half of the new file written). ``slow`` makes every batch take 20 ms longer, so that a
signal sent from outside lands in the middle of training.
"""

import os
import pickle
import signal
import sys
import time

import numpy as np
from skorch.callbacks import Callback

from sklearn_aclr import AnomalyCLRTransformer, _checkpoint
from sklearn_aclr.datasets import make_adc_events

sys.path.insert(0, os.path.dirname(__file__))
from _tiny import TINY_ENCODER  # noqa: E402

N_EVENTS, MAX_EPOCHS = 600, 6


class _Slow(Callback):
    def on_batch_end(self, net, **kwargs):
        time.sleep(0.02)


def make_job(checkpoint=None, slow=False):
    """The job's transformer and events; ``slow`` adds a callback, which leaves the model
    (and the checkpoint's fingerprint) unchanged."""
    events, _ = make_adc_events(N_EVENTS, random_state=0)
    clr = AnomalyCLRTransformer(**{**TINY_ENCODER, "random_state": 0}, max_epochs=MAX_EPOCHS,
                                patience=MAX_EPOCHS, checkpoint=checkpoint,
                                callbacks=[_Slow()] if slow else None)
    return clr, events


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def inject(fault):
    """Make the checkpoint write of epoch N kill the process at the named point."""
    where, epoch = fault.split(":")
    epoch = int(epoch)
    save = _checkpoint.CheckpointStore.save

    def faulty_save(self, net):
        if len(net.history) != epoch:
            return save(self, net)
        if where == "before-rename":
            _checkpoint.os.replace = lambda *args: _die()
            return save(self, net)
        if where == "mid-write":
            def half_dump(obj, handle, protocol=None):
                data = pickle.dumps(obj, protocol=protocol)
                handle.write(data[: len(data) // 2])
                handle.flush()
                _die()
            _checkpoint.pickle.dump = half_dump
            return save(self, net)
        raise ValueError(f"unknown fault {fault!r}")

    _checkpoint.CheckpointStore.save = faulty_save


if __name__ == "__main__":
    directory, out = sys.argv[1:3]
    fault = sys.argv[3] if len(sys.argv) > 3 else None
    if fault not in (None, "slow"):
        inject(fault)
    clr, events = make_job(directory, slow=fault == "slow")
    clr.fit(events)
    np.save(out, clr.transform(events))
