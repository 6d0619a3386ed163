"""
==========================================
Quickstart: the raw-data autoencoder
==========================================

The baseline of the AnomalyCLR paper: scale the events, train an autoencoder on background
only, and score events by how badly it reconstructs them. Everything is an ordinary
scikit-learn Pipeline. The events are the shipped demo set
(:func:`~sklearn_aclr.datasets.load_demo`): simulated W, Z and ttbar background and the four
ADC2021 signals; any ADC2021 ``Particles`` array drops in.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AutoEncoderScorer, EventScaler
from sklearn_aclr.datasets import load_demo
from sklearn_aclr.metrics import (
    anomaly_roc_auc,
    get_anomaly_score,
    max_sic,
    signal_efficiency_at,
)
from sklearn_aclr.plotting import RejectionCurveDisplay, ScoreDistributionDisplay

demo = load_demo()
print(demo.DESCR)

# %%
# Half of the background trains; the other half and every signal test.
background = demo.data[demo.target == 0]
train, test_background = background[::2], background[1::2]

# %%
# Scaled events (57 features, as in the paper) into a 57-...-5-...-57 autoencoder.
pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=60, random_state=0))
pipe.fit(train)
print(f"trained {pipe[-1].n_epochs_} epochs")

# %%
# The anomaly score is the reconstruction error: higher means more anomalous.
# (``pipe.score_samples`` follows scikit-learn: higher means more normal.)
background_score = get_anomaly_score(pipe, test_background)
fig, ax = plt.subplots(figsize=(5, 4))
print(f"{'signal':>12} {'AUC':>6} {'eS(eB=1e-2)':>12} {'max SIC':>8}")
for signal in demo.signal_names:
    signal_score = get_anomaly_score(pipe, demo.data[demo.process == signal])
    y = np.r_[np.zeros(len(background_score)), np.ones(len(signal_score))]
    score = np.r_[background_score, signal_score]
    print(f"{signal:>12} {anomaly_roc_auc(y, score):6.3f} "
          f"{signal_efficiency_at(y, score, 1e-2):12.3f} {max_sic(y, score):8.2f}")
    RejectionCurveDisplay.from_predictions(y, score, name=signal, ax=ax)
ax.set_title("raw-data autoencoder")

# %%
# The scores themselves: a display straight from the fitted pipeline, on background and
# A -> 4l events. Reconstruction errors span decades, hence the logarithmic score axis.
events = np.concatenate([test_background, demo.data[demo.process == "Ato4l"]])
labels = np.r_[np.zeros(len(test_background)), np.ones(np.sum(demo.process == "Ato4l"))]
ScoreDistributionDisplay.from_estimator(pipe, events, labels, name="A -> 4l", log_score=True)
plt.show()
