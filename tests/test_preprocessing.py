import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from sklearn_aclr import EventScaler


def test_output_shape_and_names(background):
    scaler = EventScaler().fit(background)
    Xt = scaler.transform(background)
    assert Xt.shape == (len(background), 57) and Xt.dtype == np.float32
    names = scaler.get_feature_names_out()
    assert len(names) == 57
    assert names[:4].tolist() == ["met_pt", "met_eta", "met_phi", "ele0_pt"]
    assert "jet3_pt" in names


def test_sincos_encoding(background):
    scaler = EventScaler(phi_encoding="sincos").fit(background)
    Xt = scaler.transform(background).reshape(len(background), 19, 4)
    present = background[..., 3] > 0
    np.testing.assert_allclose(Xt[..., 2] ** 2 + Xt[..., 3] ** 2, present.astype(float), atol=1e-5)
    assert scaler.get_feature_names_out()[2:4].tolist() == ["met_sinphi", "met_cosphi"]


def test_empty_slots_are_fixed_and_below_every_object(background):
    scaler = EventScaler().fit(background)
    Xt = scaler.transform(background).reshape(len(background), 19, 3)
    present = background[..., 3] > 0
    for slots in ([1, 2, 3, 4], [5, 6, 7, 8], list(range(9, 19))):
        pt, mask = Xt[:, slots, 0], present[:, slots]
        np.testing.assert_array_equal(Xt[:, slots][~mask], 0.0)
        assert pt[mask].min() > 0.3  # log(1 + 3 GeV) over a typical log pT


def test_angles_map_into_unit_range(background):
    Xt = EventScaler().fit_transform(background).reshape(len(background), 19, 3)
    assert np.abs(Xt[..., 1:]).max() <= 1.0


def test_log_pt_is_scaled_per_type(background):
    scaler = EventScaler().fit(background)
    Xt = scaler.transform(background).reshape(len(background), 19, 3)
    jets = slice(9, 19)
    pt = Xt[:, jets, 0][background[:, jets, 3] > 0]
    assert abs(pt.mean() - 1) < 1e-5  # a typical jet maps to 1
    expected = np.log1p(background[:, jets, 0]) / scaler.scale_[9, 0]
    np.testing.assert_allclose(Xt[:, jets, 0], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "reshape",
    [lambda X: X[..., :3], lambda X: X.reshape(len(X), -1)],
    ids=["no-class", "flat"],
)
def test_input_forms_agree(background, reshape):
    expected = EventScaler().fit(background).transform(background)
    np.testing.assert_array_equal(EventScaler().fit(reshape(background)).transform(
        reshape(background)), expected)


def test_transform_checks_the_width_seen_in_fit(background):
    scaler = EventScaler().fit(background)
    with pytest.raises(ValueError, match="57 features, but EventScaler is expecting 76"):
        scaler.transform(background[..., :3])


def test_tabular_layout_standardises_columns():
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 4))
    np.testing.assert_allclose(
        EventScaler(layout="tabular").fit_transform(X), StandardScaler().fit_transform(X),
        rtol=1e-5, atol=1e-5,
    )
    with pytest.raises(ValueError, match="tabular layout takes 2D input"):
        EventScaler(layout="tabular").fit(X.reshape(50, 2, 2))


def test_wrong_width_for_adc2021():
    with pytest.raises(ValueError, match="do not fit the 'adc2021' layout"):
        EventScaler().fit(np.zeros((5, 10)))


def test_standard_features_weigh_every_feature_alike(background):
    scaler = EventScaler(features="standard", phi_encoding="sincos").fit(background)
    Xt = scaler.transform(background)
    assert Xt.shape == (len(background), 19 * 5)
    names = scaler.get_feature_names_out()
    assert names[:5].tolist() == ["met_present", "met_pt", "met_eta", "met_sinphi", "met_cosphi"]
    Xt = Xt.reshape(len(background), 19, 5)
    present = background[..., 3] > 0
    np.testing.assert_array_equal(Xt[..., 0], present)
    np.testing.assert_array_equal(Xt[..., 1:][~present], 0.0)
    # Over the objects present in a slot, each feature has mean 0 and spread 1 (where it
    # varies: MET has no eta).
    for slot in (0, 1, 9, 10):
        values = Xt[present[:, slot], slot, 1:]
        np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-4)
        std = values.std(axis=0)
        np.testing.assert_allclose(std[std > 0], 1.0, rtol=1e-3)
    expected = (np.log1p(background[:, 9, 0]) - scaler.center_[9, 0]) / scaler.scale_[9, 0]
    np.testing.assert_allclose(Xt[present[:, 9], 9, 1], expected[present[:, 9]], rtol=1e-4,
                               atol=1e-5)


def test_standard_features_from_a_stream_equal_in_memory(background, tmp_path):
    from sklearn_aclr.datasets import ADC2021Stream, write_adc2021

    path = tmp_path / "events.h5"
    write_adc2021(path, background)
    streamed = EventScaler(features="standard").fit(ADC2021Stream(path))
    loaded = EventScaler(features="standard").fit(background)
    np.testing.assert_allclose(streamed.center_, loaded.center_, rtol=1e-10)
    np.testing.assert_allclose(streamed.scale_, loaded.scale_, rtol=1e-10)


def _rotated(events, angles):
    """``events`` with every present object's phi turned by ``angles`` (one per event)."""
    turned = events.copy()
    present = events[..., 3] != 0
    phi = np.remainder(events[..., 2] + angles[:, None] + np.pi, 2 * np.pi) - np.pi
    turned[..., 2] = np.where(present, phi, 0.0)
    return turned


@pytest.mark.parametrize("features", ["paper", "standard"])
def test_relative_azimuth_forgets_the_orientation(background, features):
    # Turning each event about the beam by any angle changes nothing once azimuths are
    # measured from the leading lepton; with absolute azimuths it changes the features.
    angles = np.random.default_rng(1).uniform(-np.pi, np.pi, len(background))
    turned = _rotated(background, angles)
    relative = EventScaler(features=features, phi_encoding="sincos", azimuth="relative")
    np.testing.assert_allclose(relative.fit(background).transform(turned),
                               relative.transform(background), atol=2e-4)
    absolute = EventScaler(features=features, phi_encoding="sincos").fit(background)
    assert not np.allclose(absolute.transform(turned), absolute.transform(background),
                           atol=1e-2)


def test_relative_azimuth_puts_the_leading_lepton_at_zero(background):
    from sklearn_aclr import ADC2021
    from sklearn_aclr.preprocessing import relative_azimuth

    turned = relative_azimuth(background, ADC2021)
    lepton = np.isin(background[..., 3], (2, 3))
    lead = np.where(lepton, background[..., 0], -1.0).argmax(axis=1)
    rows = np.arange(len(background))
    np.testing.assert_allclose(turned[rows, lead, 2], 0.0, atol=1e-6)
    # Azimuths between objects (here: to MET), pT, eta and empty slots are kept.
    empty = background[..., 3] == 0
    difference = np.cos(turned[..., 2] - turned[:, :1, 2]) - np.cos(
        background[..., 2] - background[:, :1, 2])
    np.testing.assert_allclose(difference[~empty], 0.0, atol=1e-5)
    np.testing.assert_array_equal(turned[..., [0, 1, 3]], background[..., [0, 1, 3]])
    np.testing.assert_array_equal(turned[empty], 0.0)
    assert np.all((turned[..., 2] >= -np.pi) & (turned[..., 2] < np.pi))


def test_turning_agrees_between_numpy_and_torch(background):
    # The encoder turns events on the device with the function EventScaler uses on arrays.
    import torch

    from sklearn_aclr import ADC2021
    from sklearn_aclr.preprocessing import reference_slots, turn_to_reference

    events = background.astype(np.float32)
    on_array = turn_to_reference(events, reference_slots(ADC2021))
    on_tensor = turn_to_reference(torch.from_numpy(events),
                                  torch.from_numpy(reference_slots(ADC2021)))
    assert on_array.dtype == np.float32 and on_tensor.dtype == torch.float32
    np.testing.assert_array_equal(on_tensor.numpy(), on_array)


def test_relative_azimuth_needs_collider_events():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="azimuth='relative' turns collider events"):
        EventScaler(layout="tabular", azimuth="relative").fit(X)
