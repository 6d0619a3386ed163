"""scikit-learn's estimator checks over every public estimator, in small configurations."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler, SeedEnsemble

ESTIMATORS = [
    AutoEncoderScorer(hidden_layer_sizes=(8,), latent_dim=2, max_epochs=3, random_state=0),
    EventScaler(layout="tabular"),
    # Each column one scalar object of its own type, with the generic augmentations; without
    # early stopping so that the checks' 10-sample fits leave events for training.
    AnomalyCLRTransformer(
        layout="tabular", d_model=8, n_heads=2, n_layers=1, dim_feedforward=16, output_dim=4,
        batch_size=32, max_epochs=2, early_stopping=False, random_state=0,
    ),
    SeedEnsemble(AutoEncoderScorer(hidden_layer_sizes=(8,), latent_dim=2, max_epochs=3),
                 n_members=2, random_state=0),
]

EXPECTED_FAILED_CHECKS = {
    "SeedEnsemble": {
        # The members compute in float32, and one event scored alone can round differently
        # from the same event in a batch (a matrix-vector product instead of a matrix
        # product). The log turns that relative error of about 1e-7 into an absolute one,
        # and the standardisation enlarges it past the check's absolute tolerance of 1e-7.
        "check_methods_subset_invariance": "float32 rounding of the members, seen through "
                                           "the log of their scores",
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
