import math

import numpy as np
import pytest
import torch

from sklearn_aclr import ADC2021, EventScaler
from sklearn_aclr.datasets import make_adc_events
from sklearn_aclr.nn import (
    AnomalyCLREncoder,
    ContrastiveLoss,
    EventFeaturizer,
    MLPAutoEncoder,
    anomclr_batch_loss,
    anomclr_loss,
    anomclr_plus_loss,
    simclr_loss,
)
from sklearn_aclr.preprocessing import fit_scaling


@pytest.fixture(scope="module")
def events():
    return torch.as_tensor(make_adc_events(32, 32, random_state=0)[0])


def _encoder(events, **kwargs):
    center, scale = fit_scaling(events.numpy(), ADC2021)
    params = dict(center=center.tolist(), scale=scale.tolist(), collider=True, n_types=5,
                  d_model=16, n_heads=2, n_layers=2, dim_feedforward=32, output_dim=8)
    torch.manual_seed(0)
    return AnomalyCLREncoder(**{**params, **kwargs}).eval()


def test_featurizer_matches_event_scaler(events):
    scaler = EventScaler(phi_encoding="sincos").fit(events.numpy())
    featurizer = EventFeaturizer(center=scaler.center_.tolist(), scale=scaler.scale_.tolist(),
                                 collider=True, sincos_phi=True)
    tokens, types, pad_mask = featurizer(events)
    expected = scaler.transform(events.numpy()).reshape(len(events), 19, 4)
    np.testing.assert_allclose(tokens.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(pad_mask, events[..., 3] == 0)
    assert torch.equal(types, events[..., 3].long())


def test_permutation_invariance_within_a_type(events):
    encoder = _encoder(events)
    perm = torch.arange(19)
    perm[9:19] = 9 + torch.randperm(10, generator=torch.Generator().manual_seed(1))
    perm[1:5] = torch.tensor([4, 3, 2, 1])
    with torch.no_grad():
        torch.testing.assert_close(encoder(events[:, perm]), encoder(events), atol=1e-5,
                                   rtol=1e-5)


def test_padding_never_changes_the_output(events):
    encoder = _encoder(events)
    garbage = events.clone()
    empty = garbage[..., 3] == 0
    garbage[..., :3] = torch.where(empty.unsqueeze(-1), torch.randn(garbage[..., :3].shape) * 50,
                                   garbage[..., :3])
    with torch.no_grad():
        torch.testing.assert_close(encoder(garbage), encoder(events))
        # Dropping trailing empty jet slots does not matter either: no positional encoding.
        all_empty = empty[:, 15:].all()
        if all_empty:
            torch.testing.assert_close(encoder(events[:, :15]), encoder(events))


def test_an_object_changes_the_output(events):
    encoder = _encoder(events)
    changed = events.clone()
    changed[:, 18] = torch.tensor([40.0, 0.5, 1.0, 4.0])
    with torch.no_grad():
        assert not torch.allclose(encoder(changed), encoder(events))


def test_encoder_shapes_and_all_empty_event(events):
    encoder = _encoder(events)
    empty = torch.zeros(2, 19, 4)
    with torch.no_grad():
        assert encoder(events).shape == (len(events), 8)
        assert encoder.pooled(events).shape == (len(events), 16)
        assert torch.isfinite(encoder(empty)).all()
    # Training on a batch with an empty event keeps every gradient finite.
    encoder.train()
    encoder(torch.cat([events, empty])).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)
    with pytest.raises(ValueError, match="n_heads=3 must divide d_model=16"):
        _encoder(events, n_heads=3)


def _reference_pooled(encoder, events):
    """The encoder's pooled output recomputed on padded events with PyTorch's own
    ``nn.TransformerEncoderLayer`` carrying the same weights: the packing must not change the
    arithmetic."""
    tokens, types, pad_mask = encoder.featurizer(events)
    x = encoder.embed(tokens) + encoder.type_embed(types)
    for packed in encoder.layers:
        width = x.shape[-1]
        reference = torch.nn.TransformerEncoderLayer(
            width, packed.n_heads, packed.linear1.out_features, 0.0, batch_first=True,
            norm_first=True,
        ).eval()
        state = {k: v for k, v in packed.state_dict().items() if not k.startswith(("qkv", "out"))}
        state |= {"self_attn.in_proj_weight": packed.qkv.weight,
                  "self_attn.in_proj_bias": packed.qkv.bias,
                  "self_attn.out_proj.weight": packed.out.weight,
                  "self_attn.out_proj.bias": packed.out.bias}
        reference.load_state_dict(state)
        x = reference(x, src_key_padding_mask=pad_mask)
    return encoder.norm(x).masked_fill(pad_mask.unsqueeze(-1), 0.0).sum(1)


@pytest.mark.parametrize("packing", [True, False])
def test_packed_and_fixed_shape_layers_match_pytorchs_transformer_layer(events, packing):
    encoder = _encoder(events)
    encoder.packing = packing
    empty = torch.zeros(1, 19, 4)  # an event without objects pools to zero either way
    with torch.no_grad():
        torch.testing.assert_close(encoder.pooled(events), _reference_pooled(encoder, events),
                                   atol=1e-5, rtol=1e-5)
        assert (encoder.pooled(empty) == 0).all()
    assert encoder.packs(events) is packing


def test_the_encoder_packs_on_cpus_and_keeps_fixed_shapes_elsewhere(events):
    encoder = _encoder(events)
    assert encoder.packing == "auto" and encoder.packs(events)
    assert not encoder.packs(events.to("meta"))


def _hand_anomclr(z, zp, za, tau, with_denominator=True):
    """The loss written out event by event, straight from its definition."""
    n = len(z)
    anchors = [v / v.norm() for v in torch.cat([z, zp])]
    anom = [v / v.norm() for v in za]
    total = 0.0
    for i in range(2 * n):
        partner = (i + n) % (2 * n)
        p = float(anchors[i] @ anchors[partner])
        q = float(anchors[i % n] @ anom[i % n])  # the original event, for both halves
        denominator = sum(math.exp(float(anchors[i] @ anchors[k]) / tau)
                          for k in range(2 * n) if k not in (i, partner))
        if not with_denominator:
            denominator = 1.0
        total += -math.log(math.exp((p - q) / tau) / denominator)
    return total / (2 * n)


def _hand_simclr(z, zp, tau):
    n = len(z)
    anchors = [v / v.norm() for v in torch.cat([z, zp])]
    total = 0.0
    for i in range(2 * n):
        partner = (i + n) % (2 * n)
        sims = {k: math.exp(float(anchors[i] @ anchors[k]) / tau) for k in range(2 * n) if k != i}
        total += -math.log(sims[partner] / sum(sims.values()))
    return total / (2 * n)


def test_losses_against_hand_computation():
    g = torch.Generator().manual_seed(0)
    z, zp, za = (torch.randn(3, 4, generator=g, dtype=torch.float64) for _ in range(3))
    assert float(anomclr_loss(z, zp, za, temperature=0.1)) == pytest.approx(
        _hand_anomclr(z, zp, za, 0.1))
    assert float(anomclr_plus_loss(z, zp, za, temperature=0.1)) == pytest.approx(
        _hand_anomclr(z, zp, za, 0.1, with_denominator=False))
    assert float(simclr_loss(z, zp, temperature=0.5)) == pytest.approx(_hand_simclr(z, zp, 0.5))
    # A two-event case small enough for pen and paper: orthogonal events, identical views.
    e = torch.eye(2, dtype=torch.float64)
    assert float(anomclr_loss(e, e, e.flip(1), temperature=1.0)) == pytest.approx(
        -math.log(math.e / 2))
    assert float(anomclr_batch_loss(e, e, e.flip(1), temperature=1.0)) == pytest.approx(
        -math.log(math.e / (3 + math.e)))


def test_anomclr_compares_the_original_event_with_its_anomalous_view():
    # Physical views that point elsewhere change p, never q: q is cos(z, z_anom) for both
    # halves of the anchors, as in the authors' definition.
    g = torch.Generator().manual_seed(1)
    z, za = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    zp_near, zp_far = z + 0.01 * torch.randn(4, 3, generator=g), -z
    for zp in (zp_near, zp_far):
        plus = float(anomclr_plus_loss(z, zp, za, temperature=1.0))
        p = torch.nn.functional.cosine_similarity(z, zp)
        q = torch.nn.functional.cosine_similarity(z, za)
        assert plus == pytest.approx(float(-(p - q).mean()), abs=1e-6)


def test_losses_reward_the_right_geometry():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 4, generator=g)
    good = anomclr_loss(z, z + 0.01 * torch.randn(8, 4, generator=g), -z, temperature=0.1)
    bad = anomclr_loss(z, -z, z, temperature=0.1)
    assert good < bad


def test_losses_backpropagate_on_cpu():
    z = torch.randn(4, 3, requires_grad=True)
    for loss in (anomclr_loss(z, z * 2, -z), anomclr_plus_loss(z, z * 2, -z),
                 anomclr_batch_loss(z, z * 2, -z), simclr_loss(z, z)):
        loss.backward()
        assert torch.isfinite(z.grad).all()


def test_contrastive_loss_module():
    stacked = torch.randn(9, 4)
    assert torch.isfinite(ContrastiveLoss(kind="anomclr")(stacked))
    assert torch.isfinite(ContrastiveLoss(kind="simclr")(stacked[:8]))
    with pytest.raises(ValueError, match="at least 2 events"):
        ContrastiveLoss()(stacked[:3])
    with pytest.raises(ValueError, match="Unknown loss 'byol'"):
        ContrastiveLoss(kind="byol")


def test_autoencoder_shapes():
    ae = MLPAutoEncoder(n_features=57)
    assert ae(torch.zeros(3, 57)).shape == (3, 57)
    widths = [m.out_features for m in ae.encoder if isinstance(m, torch.nn.Linear)]
    assert widths == [256, 128, 64, 32, 16, 5]
