"""
Data-parallel training on several GPUs or nodes
===============================================

``AnomalyCLRTransformer(accelerator=Accelerator())`` trains through skorch's
``AccelerateMixin`` (Hugging Face Accelerate; ``pip install "sklearn-aclr[accelerate]"``).
Started with ``accelerate launch``, every process trains on its share of each epoch's batches
and the gradients are averaged, so the processes hold one model. This script is not run when
the documentation is built; launch it yourself:

.. code-block:: bash

    # 4 GPUs of one node
    accelerate launch --num_processes 4 examples/distributed_training.py --epochs 50
    # 2 nodes of 4 GPUs: run on each node, with its --machine_rank
    accelerate launch --num_machines 2 --num_processes 8 --machine_rank 0 \\
        --main_process_ip 10.0.0.1 --main_process_port 29500 \\
        examples/distributed_training.py --adc2021 background_for_training.h5
    # try it on a laptop: two CPU processes
    accelerate launch --cpu --num_processes 2 examples/distributed_training.py --n-events 2000

Each process reads the whole input; with ``--adc2021`` the events are streamed from the
HDF5 file, so memory stays bounded however large it is. Early stopping is not available here
(each process would judge its own validation share); choose ``max_epochs``. Process 0 saves
the model, which then loads anywhere with ``AnomalyCLRTransformer.load``.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

from sklearn_aclr import AnomalyCLRTransformer
from sklearn_aclr.datasets import ADC2021Stream, load_demo


def main(argv=None):
    parser = argparse.ArgumentParser(description="Data-parallel AnomalyCLR training.")
    parser.add_argument("--adc2021", help="HDF5 file of background events to stream")
    parser.add_argument("--n-events", type=int, default=16000,
                        help="demo background events to train on, without --adc2021")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--small", action="store_true", help="a small encoder, for tests")
    parser.add_argument("--output", default="aclr-distributed",
                        help="folder for the saved model and a report per process")
    args = parser.parse_args(argv)

    accelerator = Accelerator()
    if args.adc2021:
        X = ADC2021Stream(args.adc2021)
    else:
        demo = load_demo()
        X = demo.data[demo.target == 0][: args.n_events]
    size = dict(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32, output_dim=8) \
        if args.small else {}
    clr = AnomalyCLRTransformer(accelerator=accelerator, max_epochs=args.epochs,
                                early_stopping=False, random_state=0, **size).fit(X)

    # Every process holds the same weights; each writes a fingerprint to show it.
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    weights = torch.cat([p.detach().flatten().cpu() for p in clr.net_.module_.parameters()])
    report = {"process": accelerator.process_index, "n_processes": accelerator.num_processes,
              "weights_sum": float(weights.double().sum()),
              "loss_curve": np.asarray(clr.loss_curve_).tolist(),
              "epoch_seconds": [float(d) for d in clr.net_.history[:, "dur"]],
              "n_events": len(X)}
    (output / f"process{accelerator.process_index}.json").write_text(json.dumps(report))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        clr.save(output / "model", overwrite=True)
        print(f"{accelerator.num_processes} processes trained one model; saved to "
              f"{output / 'model'}")


if __name__ == "__main__":
    main()
