import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline

from sklearn_aclr import EventScaler
from sklearn_aclr.datasets import make_adc_events, write_adc2021
from sklearn_aclr.study import StudyResult, run_study

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


@pytest.mark.slow
def test_study_command_on_files(tmp_path, capsys):
    from sklearn_aclr._cli import main

    X, y = make_adc_events(600, 200, random_state=1)
    write_adc2021(tmp_path / "bkg.h5", X[y == 0])
    write_adc2021(tmp_path / "sig.h5", X[y == 1])
    out = tmp_path / "out"
    status = main(["study", "--background", str(tmp_path / "bkg.h5"),
                   "--signal", f"fourlep={tmp_path / 'sig.h5'}", "--quick", "--epochs", "1",
                   "--no-progress", "--no-plots", "-o", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    for model in ("raw AE", "AnomalyCLR + AE", "IsolationForest", "supervised"):
        assert f"fourlep  {model}" in printed
    stored = json.loads((out / "results.json").read_text())
    assert len(stored["records"]) == 4
    assert stored["info"]["command"].startswith("sklearn-aclr study --background")
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "results.json", "results.md"]
    markdown = (out / "results.md").read_text()
    assert markdown.startswith("`sklearn-aclr study") and "| fourlep | supervised |" in markdown


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_tool_replaces_only_the_marked_block():
    tool = _tool("update_readme")
    text = "intro\n<!-- study-results:start -->\nold\n<!-- study-results:end -->\nend\n"
    assert tool.replace_block(text, "| new |") == (
        "intro\n<!-- study-results:start -->\n| new |\n<!-- study-results:end -->\nend\n")
    with pytest.raises(SystemExit, match="exactly one"):
        tool.replace_block("no markers", "| new |")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--background", "b.h5"], "needs at least one --signal"),
        (["--background", "b.h5", "--signal", "nopath"], "NAME=PATH"),
        (["--adc2021", "--signal", "a=b.h5"], "goes with --background"),
        (["--n-background", "0"], "0 is not a positive number"),
        (["--n-signal", "-5"], "-5 is not a positive number"),
        (["--epochs", "ten"], "'ten' is not an integer"),
        (["--update-readme", "README.md"], "tools/update_readme.py"),
    ],
)
def test_user_errors_are_one_line_and_exit_status_2(argv, match, capsys):
    from sklearn_aclr._cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["study", *argv])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert re.search(match, error) and "Traceback" not in error


def test_missing_files_and_devices_are_user_errors(tmp_path, capsys):
    from sklearn_aclr._cli import main

    with h5py.File(tmp_path / "sig.h5", "w") as f:
        f.create_dataset("Particles", data=np.zeros((3, 19, 4), "f4"))
    cases = [
        (["--background", str(tmp_path / "missing.h5"), "--signal", f"s={tmp_path / 'sig.h5'}"],
         "--background .*missing.h5' does not exist"),
        (["--background", str(tmp_path / "sig.h5"), "--signal", f"s={tmp_path / 'gone.h5'}"],
         "--signal s: .*gone.h5' does not exist"),
        (["--device", "warp-drive"], "not a torch device"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "torch sees no CUDA device"))
    for argv, match in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["study", *argv])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert len(error.strip().splitlines()) == 1 and re.search(match, error), error


def test_simulate_options_have_help_and_units(capsys):
    from sklearn_aclr._cli import main

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = capsys.readouterr().out
    assert "GeV" in text and "(default: default" not in text
    options = re.findall(r"^  (--[a-z-]+)", text, re.M)
    assert "--jet-energy-resolution" in options and len(options) >= 12


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
