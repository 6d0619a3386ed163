"""
==========================================
Quickstart: a raw-data autoencoder search
==========================================

The baseline of the AnomalyCLR paper: scale the events, train an autoencoder on background
only, and score events by how badly it reconstructs them. Everything is an ordinary
scikit-learn Pipeline, so cross-validation and grid search work as usual, with
:class:`~sklearn_aclr.model_selection.BackgroundKFold` keeping signal out of training.

The events here come from :func:`~sklearn_aclr.datasets.make_adc_events`, a fast sampler in
the ADC2021 layout (not a physics simulation); any ADC2021 ``Particles`` array drops in.
"""

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AutoEncoderScorer, EventScaler
from sklearn_aclr.datasets import make_adc_events
from sklearn_aclr.metrics import anomaly_auc_scorer, anomaly_roc_auc, max_sic, signal_efficiency_at
from sklearn_aclr.model_selection import BackgroundKFold

# %%
# Background-only training events, and a test set with two kinds of signal.
X_train, _ = make_adc_events(20_000, random_state=0)
tests = {
    signal: make_adc_events(20_000, 2_000, signal=signal, random_state=1)
    for signal in ("four_leptons", "high_met")
}

# %%
# The pipeline: scaled events (57 features, as in the paper) into a 57-...-5-...-57 autoencoder.
pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=30, random_state=0, verbose=1))
pipe.fit(X_train)

# %%
# Anomaly score = reconstruction error: higher means more anomalous.
print(f"{'signal':>14} {'AUC':>6} {'eS(eB=1e-2)':>12} {'max SIC':>8}")
for signal, (X_test, y_test) in tests.items():
    score = -pipe.score_samples(X_test)
    print(
        f"{signal:>14} {anomaly_roc_auc(y_test, score):6.3f} "
        f"{signal_efficiency_at(y_test, score, background_efficiency=1e-2):12.3f} "
        f"{max_sic(y_test, score):8.2f}"
    )

# %%
# Model selection: the bottleneck width, chosen by the AUC on held-out background plus signal.
X, y = tests["four_leptons"]
search = GridSearchCV(
    make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=10, random_state=0)),
    {"autoencoderscorer__latent_dim": [3, 5, 8]},
    scoring=anomaly_auc_scorer,
    cv=BackgroundKFold(n_splits=3),
)
search.fit(X, y)
print("best latent_dim:", search.best_params_["autoencoderscorer__latent_dim"])
print("mean AUC per latent_dim:", np.round(search.cv_results_["mean_test_score"], 3))
