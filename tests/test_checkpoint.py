"""Checkpoints: a fit killed at any moment resumes to the model of an uninterrupted fit."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _tiny import TINY_ENCODER
from skorch.callbacks import Callback

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler, _checkpoint
from sklearn_aclr.datasets import make_adc_events
from sklearn_aclr.exceptions import TrainingInterruptedWarning

JOB = Path(__file__).with_name("checkpoint_job.py")
# The jobs compared bit for bit run in processes of their own, where MKL's matrix products can
# differ in the last bits with the alignment of their operands (the likely cause of a 2-ulp
# mismatch seen once on CI); MKL's conditional numerical reproducibility, strict, rules it out.
JOB_ENV = {**os.environ, "MKL_CBWR": "AUTO,STRICT"}
SMALL = dict(TINY_ENCODER, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def events():
    return make_adc_events(400, random_state=0)[0]


def _run(tmp_path, *fault, check=True):
    out = tmp_path / "out.npy"
    result = subprocess.run([sys.executable, str(JOB), str(tmp_path / "ckpt"), str(out), *fault],
                            capture_output=True, text=True, timeout=300, env=JOB_ENV)
    if check:
        assert result.returncode == 0, result.stderr
    return result, out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The representations of the subprocess job, fitted without interruption."""
    _, out = _run(tmp_path_factory.mktemp("uninterrupted"))
    return np.load(out)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_a_fit_resumed_from_its_checkpoint_ends_as_an_uninterrupted_one(events, tmp_path,
                                                                        early_stopping):
    params = dict(SMALL, early_stopping=early_stopping, patience=5)
    straight = AnomalyCLRTransformer(**params, max_epochs=5).fit(events)
    first = AnomalyCLRTransformer(**params, max_epochs=2, checkpoint=tmp_path).fit(events)
    assert first.n_epochs_ == 2 and (tmp_path / "checkpoint.pkl").exists()
    # A new estimator, as a requeued job builds it, with more epochs allowed.
    resumed = AnomalyCLRTransformer(**params, max_epochs=5, checkpoint=tmp_path).fit(events)
    np.testing.assert_array_equal(resumed.loss_curve_, straight.loss_curve_)
    np.testing.assert_array_equal(resumed.transform(events), straight.transform(events))
    # A finished fit started again returns at once with the same model.
    again = AnomalyCLRTransformer(**params, max_epochs=5, checkpoint=tmp_path).fit(events)
    np.testing.assert_array_equal(again.transform(events), straight.transform(events))


def test_the_scorer_resumes_from_its_checkpoint(events, tmp_path):
    features = EventScaler().fit_transform(events)
    straight = AutoEncoderScorer(max_epochs=6, random_state=0).fit(features)
    AutoEncoderScorer(max_epochs=3, random_state=0, checkpoint=tmp_path).fit(features)
    resumed = AutoEncoderScorer(max_epochs=6, random_state=0, checkpoint=tmp_path).fit(features)
    np.testing.assert_array_equal(resumed.score_samples(features),
                                  straight.score_samples(features))
    assert resumed.offset_ == straight.offset_


def test_a_checkpoint_of_another_fit_is_refused_naming_the_difference(events, tmp_path):
    AnomalyCLRTransformer(**SMALL, max_epochs=1, checkpoint=tmp_path).fit(events)
    with pytest.raises(ValueError, match=r"other parameters: temperature=0.1 there, 0.2 here"):
        AnomalyCLRTransformer(**SMALL, temperature=0.2, checkpoint=tmp_path).fit(events)
    with pytest.raises(ValueError, match=r"other training data \(400 events there, 399 here"):
        AnomalyCLRTransformer(**SMALL, checkpoint=tmp_path).fit(events[1:])
    changed = events.copy()
    changed[0, 0, 0] += 1.0
    with pytest.raises(ValueError, match="other training data"):
        AnomalyCLRTransformer(**SMALL, checkpoint=tmp_path).fit(changed)
    with pytest.raises(ValueError, match="AnomalyCLRTransformer, not a .*AutoEncoderScorer"):
        AutoEncoderScorer(checkpoint=tmp_path).fit(EventScaler().fit_transform(events))


def test_a_file_that_is_no_checkpoint_is_refused(events, tmp_path):
    (tmp_path / "checkpoint.pkl").write_bytes(b"something else\n")
    with pytest.raises(ValueError, match="is not an sklearn-aclr checkpoint"):
        AnomalyCLRTransformer(**SMALL, checkpoint=tmp_path).fit(events)


class _Sigterm(Callback):
    """Raises the package's SIGTERM flag after training batch ``batch`` of epoch ``epoch``,
    as the signal handler would."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, net, training=None, **kwargs):
        if (training and len(net.history) == self.epoch
                and len(net.history[-1]["batches"]) == self.batch):
            _checkpoint._SIGTERM.received = True


def _header(path):
    with open(path / "checkpoint.pkl", "rb") as handle:
        handle.readline()
        return json.loads(handle.readline())


@pytest.mark.parametrize("early_stopping", [True, False])
def test_sigterm_checkpoints_in_the_middle_of_an_epoch_and_resumes_from_the_next_batch(
        events, tmp_path, monkeypatch, early_stopping):
    # In this process the signal must not end pytest: the flag stands for it, and the
    # re-raising of the signal after the fit is switched off.
    monkeypatch.setattr(_checkpoint, "_deliver", lambda: None)
    params = dict(SMALL, early_stopping=early_stopping, patience=5, batch_size=32, max_epochs=4)
    straight = AnomalyCLRTransformer(**params).fit(events)
    with pytest.warns(TrainingInterruptedWarning, match="after batch 3 of it.*resume from the "
                                                        "next batch"):
        AnomalyCLRTransformer(**params, checkpoint=tmp_path,
                              callbacks=[_Sigterm(2, 3)]).fit(events)
    header = _header(tmp_path)
    assert (header["epochs"], header["batches_into_last_epoch"]) == (2, 3)
    resumed = AnomalyCLRTransformer(**params, checkpoint=tmp_path).fit(events)
    np.testing.assert_array_equal(resumed.loss_curve_, straight.loss_curve_)
    if early_stopping:
        np.testing.assert_array_equal(resumed.validation_loss_curve_,
                                      straight.validation_loss_curve_)
    np.testing.assert_array_equal(resumed.transform(events), straight.transform(events))
    assert resumed.net_.history[1]["train_batch_count"] == straight.net_.history[1][
        "train_batch_count"]
    assert _header(tmp_path)["batches_into_last_epoch"] is None  # the finished fit's


def test_the_sigterm_handler_is_restored_after_fit(events, tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    AnomalyCLRTransformer(**SMALL, max_epochs=1, checkpoint=tmp_path).fit(events)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("fault", ["before-rename:3", "mid-write:3"])
def test_sigkill_during_a_checkpoint_write_loses_nothing(tmp_path, reference, fault):
    killed, out = _run(tmp_path, fault, check=False)
    assert killed.returncode == -signal.SIGKILL and not out.exists()
    _run(tmp_path)  # the requeued job: resumes from the checkpoint of epoch 2
    np.testing.assert_array_equal(np.load(out), reference)
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint.pkl"]


def _start_and_signal(tmp_path, signum, delay):
    """Start the slow job, wait for its first checkpoint and ``delay`` seconds more, signal
    it; returns the finished process."""
    out = tmp_path / "out.npy"
    process = subprocess.Popen(
        [sys.executable, str(JOB), str(tmp_path / "ckpt"), str(out), "slow"],
        stderr=subprocess.PIPE, text=True, env=JOB_ENV)
    deadline = time.monotonic() + 120
    while not (tmp_path / "ckpt" / "checkpoint.pkl").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "the job wrote no checkpoint"
        time.sleep(0.01)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr, out


def test_sigterm_finishes_the_batch_keeps_the_checkpoint_and_ends_the_job(tmp_path,
                                                                          reference):
    returncode, stderr, out = _start_and_signal(tmp_path, signal.SIGTERM, delay=0.3)
    assert returncode == -signal.SIGTERM, stderr
    assert "SIGTERM arrived during epoch" in stderr and "to resume" in stderr
    assert not out.exists()
    assert _header(tmp_path / "ckpt")["batches_into_last_epoch"] >= 1  # mid-epoch
    _run(tmp_path)
    np.testing.assert_array_equal(np.load(out), reference)


@pytest.mark.slow
def test_sigkill_at_random_moments_still_ends_with_the_uninterrupted_model(tmp_path,
                                                                          reference):
    rng = np.random.default_rng(0)
    for delay in rng.uniform(0.0, 1.0, size=3):
        returncode, stderr, out = _start_and_signal(tmp_path, signal.SIGKILL, delay)
        assert returncode in (-signal.SIGKILL, 0), stderr
    _run(tmp_path)
    np.testing.assert_array_equal(np.load(out), reference)
