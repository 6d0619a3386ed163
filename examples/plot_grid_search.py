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
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_aclr import AutoEncoderScorer, EventScaler
from sklearn_aclr.datasets import load_demo
from sklearn_aclr.metrics import anomaly_auc_scorer, make_signal_efficiency_scorer, max_sic_scorer
from sklearn_aclr.model_selection import BackgroundKFold

X, y = load_demo(signal="Ato4l", return_X_y=True)

# %%
# The bottleneck width of the autoencoder, judged by three scorers. ``refit=False``:
# GridSearchCV would refit the winner on all of X, signal included.
pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=15, random_state=0))
search = GridSearchCV(
    pipe,
    {"autoencoderscorer__latent_dim": [2, 5, 10]},
    scoring={"auc": anomaly_auc_scorer, "max_sic": max_sic_scorer,
             "eS@1e-2": make_signal_efficiency_scorer(1e-2)},
    refit=False,
    cv=BackgroundKFold(n_splits=3, shuffle=True, random_state=0),
    n_jobs=2,
)
search.fit(X, y)

results = search.cv_results_
for i, params in enumerate(results["params"]):
    scores = {name: results[f"mean_test_{name}"][i] for name in ("auc", "max_sic", "eS@1e-2")}
    print(f"{params}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))

# %%
# The winner by AUC, refitted on background only.
best_params = results["params"][int(np.argmax(results["mean_test_auc"]))]
best = clone(pipe).set_params(**best_params).fit(X[y == 0])
print("best:", best_params)
print("anomaly scores of five signal events:",
      np.round(best[-1].anomaly_score(best[0].transform(X[y == 1][:5])), 3))
