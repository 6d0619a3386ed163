"""The smallest estimator settings that still train, shared by the test modules."""

# An AnomalyCLR encoder of one narrow layer: trains on a few hundred events in a second.
TINY_ENCODER = dict(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32, output_dim=8,
                    batch_size=64)

# A small autoencoder for scaled events.
SMALL_SCORER = dict(hidden_layer_sizes=(16, 8), latent_dim=3, max_epochs=3, batch_size=64,
                    device="cpu", random_state=0)


def tiny_transformer(**kwargs):
    """A tiny AnomalyCLRTransformer on the CPU, 3 epochs, seed 0; ``kwargs`` override."""
    from sklearn_aclr import AnomalyCLRTransformer

    params = dict(TINY_ENCODER, device="cpu", max_epochs=3, random_state=0)
    return AnomalyCLRTransformer(**{**params, **kwargs})


def tiny_scorer(**kwargs):
    """A small AutoEncoderScorer on the CPU, 3 epochs, seed 0; ``kwargs`` override."""
    from sklearn_aclr import AutoEncoderScorer

    return AutoEncoderScorer(**{**SMALL_SCORER, **kwargs})
