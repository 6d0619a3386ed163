"""The command line (sklearn_aclr._cli): the study on files, user errors in one line with exit
status 2, help with units; the maintainer's README tool."""

import importlib.util
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sklearn_aclr.datasets import make_adc_events, write_adc2021

ROOT = Path(__file__).resolve().parents[1]


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
    for model in ("raw AE", "raw AE (latent 2)", "raw AE (relative phi)", "AnomalyCLR + AE",
                  "IsolationForest", "supervised"):
        assert f"fourlep  {model}" in printed
    stored = json.loads((out / "results.json").read_text())
    assert len(stored["records"]) == 6
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
        (["--style", "no-such-style"], "style='no-such-style' is neither a matplotlib style"),
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
