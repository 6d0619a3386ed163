"""
==========================================================
Grid search with background-only folds and anomaly scorers
==========================================================

An anomaly detector must never see signal in training, but choosing its hyperparameters needs
some signal to measure against. :class:`~sklearn_aclr.model_selection.BackgroundKFold` does
both: it trains on background folds only and tests on the held-out background plus all signal
events. The ready scorers in :mod:`sklearn_aclr.metrics` are higher-is-better, as
``GridSearchCV`` expects, so no sign has to be remembered.
"""

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AutoEncoderScorer, EventScaler
from sklearn_aclr.datasets import load_demo
from sklearn_aclr.metrics import anomaly_auc_scorer, make_signal_efficiency_scorer, max_sic_scorer
from sklearn_aclr.model_selection import BackgroundKFold, BackgroundOnly

X, y = load_demo(signal="Ato4l", return_X_y=True)

# %%
# The bottleneck width of the autoencoder, judged by three scorers. ``BackgroundOnly`` trains
# the detector on the background events of whatever it is given, so that the refit of the
# winner (by AUC) uses all of the background and no signal.
pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=15, random_state=0))
search = GridSearchCV(
    BackgroundOnly(pipe),
    {"estimator__autoencoderscorer__latent_dim": [2, 5, 10]},
    scoring={"auc": anomaly_auc_scorer, "max_sic": max_sic_scorer,
             "eS@1e-2": make_signal_efficiency_scorer(1e-2)},
    refit="auc",
    cv=BackgroundKFold(n_splits=3, shuffle=True, random_state=0),
    n_jobs=2,
)
search.fit(X, y)

results = search.cv_results_
for i, params in enumerate(results["params"]):
    scores = {name: results[f"mean_test_{name}"][i] for name in ("auc", "max_sic", "eS@1e-2")}
    print(f"{params}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))

# %%
# The winner by AUC, refitted on the background only: ready to use.
best = search.best_estimator_
print("best:", search.best_params_, f"(trained on {best.n_background_} background events)")
print("anomaly scores of five signal events:", np.round(best.anomaly_score(X[y == 1][:5]), 3))
