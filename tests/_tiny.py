"""The smallest estimator settings that still train, shared by the test modules."""

# An AnomalyCLR encoder of one narrow layer: trains on a few hundred events in a second.
TINY_ENCODER = dict(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32, output_dim=8,
                    batch_size=64)
