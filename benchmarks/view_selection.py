"""How often the views of selected events fail the ADC2021 selection, per augmentation.

A view that fails the selection (no electron or muon above 23 GeV) is one that no recorded
event could be: the encoder can tell it apart by that alone. For every built-in collider
augmentation and the default physical and anomalous views, this counts the views of selected
events that fail, on validation background (``validation_data.py``) or, with ``--demo``, on
the demo background. It also reports the mean change of MET, which the smearing views now
carry.

Usage::

    python benchmarks/view_selection.py
"""

import argparse

import torch

from sklearn_aclr.augmentations import (
    AUGMENTATIONS,
    Compose,
    OneOf,
    default_augmentations,
    passes_selection,
    slot_table,
)

from _common import print_table, write_report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-events", type=int, default=20_000)
    parser.add_argument("--demo", action="store_true", help="the demo background instead")
    parser.add_argument("--output")
    args = parser.parse_args()

    if args.demo:
        from sklearn_aclr.datasets import load_demo

        demo = load_demo()
        events = demo.data[demo.target == 0][: args.n_events]
        source = "load_demo() background"
    else:
        from sklearn_aclr.datasets import load_adc2021

        from validation_data import path_of

        events = load_adc2021(path_of("W_lnu"), n_events=args.n_events)
        source = "validation W -> l nu"
    x = torch.as_tensor(events)
    table = slot_table("adc2021", x)
    x = x[passes_selection(x, table)]
    physical, anomalous = default_augmentations("adc2021")
    views = {name: AUGMENTATIONS[name]() for name in (*physical, *anomalous)}
    views["default physical"] = Compose([AUGMENTATIONS[n]() for n in physical])
    views["default anomalous"] = OneOf([AUGMENTATIONS[n]() for n in anomalous])
    rows = []
    for name, view in views.items():
        out = view(x, generator=torch.Generator().manual_seed(0))
        rows.append({
            "view": name,
            "fail": float((~passes_selection(out, table)).float().mean()),
            "met_shift": float((out[:, 0, 0] - x[:, 0, 0]).abs().mean()),
        })
    print_table(rows, [("view", "view", ""), ("fail", "fails selection", ".4f"),
                       ("met_shift", "mean |dMET| GeV", ".2f")],
                title=f"Views of {len(x)} selected events ({source})")
    write_report("view_selection", {"source": source, "n_events": len(x), "results": rows},
                 args.output)


if __name__ == "__main__":
    main()
