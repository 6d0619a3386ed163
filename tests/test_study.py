import json
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline

from sklearn_aclr import EventScaler
from sklearn_aclr.datasets import make_adc_events
from sklearn_aclr.study import StudyResult, default_models, run_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def events():
    X, y = make_adc_events(2000, 300, random_state=0)
    return X[y == 0], X[y == 1]


def _iforest():
    return {"iforest": make_pipeline(EventScaler(), IsolationForest(random_state=0))}


@pytest.mark.slow
def test_run_study_measures_every_model_on_every_signal(events):
    background, signal = events
    result = run_study(background, {"a": signal, "b": signal[:100]}, models=_iforest(),
                       log=None)
    assert [(r["model"], r["signal"]) for r in result.records] == [
        ("iforest", "a"), ("iforest", "b"), ("supervised", "a"), ("supervised", "b")
    ]
    assert result.info["n_background_test"] == 1000
    assert result.info["n_signal_test"] == {"a": 150, "b": 50}
    for record in result.records:
        assert 0.5 < record["auc"] <= 1  # the four-lepton signal is easy for both
        assert record["eS@eB=1e-2"] is not None  # 10 of the 1000 test events pass
        assert record["eS@eB=1e-3"] is None  # one event would pass: not reported
    supervised = {r["signal"]: r["auc"] for r in result.records if r["model"] == "supervised"}
    assert supervised["a"] > 0.99
    # The same seed, the same numbers.
    again = run_study(background, {"a": signal, "b": signal[:100]}, models=_iforest(),
                      log=None)
    assert again.records == result.records


def test_ensembled_models_average_autoencoders_on_both_sides():
    """--members N: every autoencoder of the study, on raw features and on representations,
    is a SeedEnsemble of N with the study's seed."""
    from sklearn_aclr import AutoEncoderScorer, SeedEnsemble

    models = default_models(quick=True, random_state=7, n_members=3)
    for name in ("raw AE x3", "raw AE (latent 2) x3", "raw AE (relative phi) x3",
                 "AnomalyCLR + AE x3"):
        ensemble = models[name][-1]
        assert isinstance(ensemble, SeedEnsemble) and isinstance(ensemble.estimator,
                                                                 AutoEncoderScorer)
        assert (ensemble.n_members, ensemble.random_state) == (3, 7)
    single = default_models(quick=True, random_state=7)
    assert isinstance(single["raw AE"][-1], AutoEncoderScorer)
    assert single["raw AE (latent 2)"][-1].latent_dim == 2
    assert single["raw AE (relative phi)"][0].azimuth == "relative"
    with pytest.raises(ValueError, match="n_members must be at least 1"):
        default_models(n_members=0)


def test_run_study_rejects_bad_input(events):
    background, signal = events
    with pytest.raises(ValueError, match="at least one signal"):
        run_study(background, {}, log=None)
    with pytest.raises(ValueError, match="test_size"):
        run_study(background, {"a": signal}, test_size=1.5, log=None)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        run_study(background, {"a": signal[:1]}, log=None)
    with pytest.raises(ValueError, match="disagrees with"):
        run_study(background[:, ::-1], {"a": signal}, log=None)


def test_result_writers(tmp_path, events):
    pytest.importorskip("matplotlib")
    background, signal = events
    result = run_study(background, {"a": signal}, models=_iforest(), log=None)
    result.to_json(tmp_path / "r.json")
    result.to_csv(tmp_path / "r.csv")
    result.plot(tmp_path / "roc.png", tmp_path / "sic.png")
    stored = json.loads((tmp_path / "r.json").read_text())
    assert stored["records"] == result.records
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0].startswith("model,signal,auc") and len(lines) == 3
    for image in ("roc.png", "sic.png"):
        assert (tmp_path / image).read_bytes()[:4] == b"\x89PNG"
    table = result.table().splitlines()
    assert table[0].split() == ["signal", "model", "AUC", "eS@eB=1e-2", "eS@eB=1e-3", "max",
                                "SIC"]
    assert StudyResult(records=[]).table().startswith("signal")


def test_figures_leave_the_matplotlib_backend_alone():
    """Plotting works without pyplot: a notebook's inline backend stays as it was."""
    code = """
import matplotlib
matplotlib.use("svg")
import sys, numpy as np
from sklearn_aclr.study import StudyResult
y = np.r_[np.zeros(200), np.ones(50)]
score = np.r_[np.random.default_rng(0).normal(size=200), np.ones(50)]
roc, sic = StudyResult(records=[], curves={("m", "s"): (y, score)}).figures()
assert len(roc.axes) == 1 and roc.axes[0].get_yscale() == "log"
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["svg", "False"]
