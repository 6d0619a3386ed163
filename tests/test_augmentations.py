"""The physics of the augmentations, tested as properties on many random events."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_aclr import ADC2021
from sklearn_aclr._layout import check_events
from sklearn_aclr.augmentations import (
    AddInvisible,
    AddObjects,
    CollinearSplit,
    Compose,
    OneOf,
    RotatePhi,
    ScalePT,
    ShiftMET,
    SmearEtaPhi,
    SmearJetEnergy,
    SwapMET,
    make_augmentation,
    passes_selection,
    slot_table,
    wrap_phi,
)
from sklearn_aclr.augmentations._base import trigger_object
from sklearn_aclr.datasets import make_adc_events

ALL = [RotatePhi(), SmearEtaPhi(), SmearJetEnergy(), AddObjects(), CollinearSplit(), ShiftMET(),
       ScalePT(), AddInvisible(), SwapMET(), Compose([RotatePhi(), SmearJetEnergy()]),
       OneOf([AddObjects(), CollinearSplit(), ShiftMET(), ScalePT()])]
SLOT_CLASS = torch.as_tensor(ADC2021.slot_class)
seeds = st.integers(0, 2**31 - 1)


def _events(seed, n=256, signal="four_leptons"):
    X, _ = make_adc_events(n // 2, n - n // 2, signal=signal, random_state=seed)
    return torch.as_tensor(X)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _vector_sum(events):
    pt, phi = events[..., 0].double(), events[..., 2].double()
    return torch.stack([(pt * torch.cos(phi)).sum(1), (pt * torch.sin(phi)).sum(1)], 1)


def _type_pt(events, name):
    return events[:, ADC2021.slots_of(name), 0].double().sum(1)


def _assert_valid_layout(events):
    """Valid ADC2021 events: checks pass, classes sit in their slots, objects sorted by pT."""
    check_events(events.numpy())
    present = events[..., 3] != 0
    assert torch.all(events[..., 3][present] == SLOT_CLASS.expand_as(present)[present])
    for name in ("ele", "mu", "jet"):
        slots = ADC2021.slots_of(name)
        pt = torch.where(present[:, slots], events[:, slots, 0], -1.0)
        assert torch.all(pt[:, :-1] >= pt[:, 1:]), f"{name} slots out of pT order"


@pytest.mark.parametrize("aug", ALL, ids=lambda a: type(a).__name__)
def test_shape_layout_and_purity(aug):
    events = _events(0)
    before = events.clone()
    out = aug(events, generator=_gen(1))
    assert out.shape == events.shape and out.dtype == events.dtype
    torch.testing.assert_close(events, before)  # input untouched
    _assert_valid_layout(out)


@pytest.mark.parametrize("aug", ALL, ids=lambda a: type(a).__name__)
def test_same_generator_seed_same_output(aug):
    events = _events(0)
    torch.testing.assert_close(aug(events, generator=_gen(5)), aug(events, generator=_gen(5)))
    assert not torch.equal(aug(events, generator=_gen(5)), aug(events, generator=_gen(6)))


@pytest.mark.parametrize("aug", ALL, ids=lambda a: type(a).__name__)
def test_picklable(aug):
    restored = pickle.loads(pickle.dumps(aug))
    assert restored == aug
    events = _events(0)
    torch.testing.assert_close(restored(events, generator=_gen(2)), aug(events, generator=_gen(2)))


@settings(max_examples=20, deadline=None)
@given(seed=seeds, strength=st.floats(0.0, 1.0))
def test_rotation_keeps_every_pt_and_pairwise_delta_phi(seed, strength):
    events = _events(seed, n=64)
    out = RotatePhi(strength=strength)(events, generator=_gen(seed))
    torch.testing.assert_close(out[..., [0, 1, 3]], events[..., [0, 1, 3]])
    present = events[..., 3] != 0
    dphi_before = wrap_phi(events[:, :, None, 2] - events[:, None, :, 2])
    dphi_after = wrap_phi(out[:, :, None, 2] - out[:, None, :, 2])
    both = present[:, :, None] & present[:, None, :]
    # Compare on the circle: wrapped differences may sit at +pi and -pi.
    diff = wrap_phi(dphi_after - dphi_before)[both]
    assert diff.abs().max() < 1e-4
    assert (out[..., 2] >= -np.pi).all() and (out[..., 2] < np.pi).all()


def test_phi_wraps_by_two_pi_not_pi():
    phi = torch.tensor([4.0, -4.0, np.pi, -np.pi, 0.5], dtype=torch.float64)
    expected = torch.tensor([4.0 - 2 * np.pi, -4.0 + 2 * np.pi, -np.pi, -np.pi, 0.5],
                            dtype=torch.float64)
    torch.testing.assert_close(wrap_phi(phi), expected)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, strength=st.floats(0.5, 50.0))
def test_smearing_keeps_objects_inside_acceptance(seed, strength):
    events = _events(seed, n=64)
    for aug in (SmearEtaPhi(strength=strength), SmearJetEnergy(strength=strength / 10)):
        out = aug(events, generator=_gen(seed))
        _assert_valid_layout(out)
        present = out[..., 3] != 0
        eta_max = torch.as_tensor(ADC2021.slot_attribute("eta_max"), dtype=out.dtype)
        pt_min = torch.as_tensor(ADC2021.slot_attribute("pt_min"), dtype=out.dtype)
        assert (out[..., 1].abs() < eta_max)[present].all()
        assert (out[..., 0] >= pt_min)[present].all()


def test_eta_phi_smearing_width_is_flat_then_falls_with_pt():
    events = torch.zeros(6000, 19, 4)
    events[:, 0] = torch.tensor([20.0, 0.0, 1.0, 1.0])
    events[:, 5] = torch.tensor([40.0, 0.5, 1.0, 3.0])  # a muon that passes the selection
    for k, pt in enumerate([5.0, 25.0, 100.0]):
        events[2000 * k : 2000 * (k + 1), 1] = torch.tensor([pt, 0.0, 0.0, 2.0])
    out = SmearEtaPhi(width=0.1, pt_ref=25.0)(events, generator=_gen(0))
    widths = [float(out[2000 * k : 2000 * (k + 1), 1, 1].std()) for k in range(3)]
    assert widths == pytest.approx([0.1, 0.1, 0.025], rel=0.1)
    # MET takes up the change of direction: the event's vector sum is unchanged.
    torch.testing.assert_close(_vector_sum(out), _vector_sum(events), atol=1e-3, rtol=1e-5)
    assert not torch.equal(out[:, 0], events[:, 0])


def test_eta_phi_smearing_sends_objects_leaving_the_acceptance_into_met():
    events = torch.zeros(2000, 19, 4)
    events[:, 0] = torch.tensor([20.0, 0.0, 1.0, 1.0])
    events[:, 1] = torch.tensor([40.0, 0.0, 0.0, 2.0])
    events[:, 5] = torch.tensor([10.0, 2.09, 2.0, 3.0])  # a soft muon at the acceptance edge
    out = SmearEtaPhi()(events, generator=_gen(0))
    lost = out[:, 5, 3] == 0
    assert 0.2 < lost.float().mean() < 0.5
    torch.testing.assert_close(_vector_sum(out), _vector_sum(events), atol=1e-3, rtol=1e-5)


def test_eta_phi_smearing_keeps_the_selection():
    # The only lepton above 23 GeV sits at the edge; where smearing would push it out, the
    # event keeps its original angles instead of failing the selection.
    events = torch.zeros(2000, 19, 4)
    events[:, 0] = torch.tensor([20.0, 0.0, 1.0, 1.0])
    events[:, 5] = torch.tensor([24.0, 2.099, 2.0, 3.0])
    out = SmearEtaPhi(strength=3.0)(events, generator=_gen(0))
    assert passes_selection(out, slot_table("adc2021", out)).all()
    unchanged = (out == events).all(dim=(1, 2))
    assert 0.3 < unchanged.float().mean() < 0.7


def test_jet_energy_resolution_terms():
    events = torch.zeros(20_000, 19, 4)
    events[:, 0, 3] = 1
    events[:, 5] = torch.tensor([40.0, 0.5, 1.0, 3.0])
    events[:, 9] = torch.tensor([500.0, 0.0, 0.0, 4.0])
    for kwargs, relative in [({}, 0.0842), (dict(constant=0.228, stochastic=1.226), 0.235)]:
        out = SmearJetEnergy(**kwargs)(events, generator=_gen(0))
        assert float(out[:, 9, 0].std()) / 500 == pytest.approx(relative, rel=0.03)


def test_jet_smearing_leaves_leptons_alone_and_moves_met():
    events = _events(3)
    out = SmearJetEnergy()(events, generator=_gen(0))
    torch.testing.assert_close(out[:, 1:9], events[:, 1:9])
    # Jets that change or drop below threshold move MET by minus their change.
    torch.testing.assert_close(_vector_sum(out), _vector_sum(events), atol=1e-2, rtol=1e-5)
    assert not torch.equal(out[:, 0], events[:, 0])


@pytest.mark.parametrize("augmentation", ALL, ids=repr)
def test_every_view_of_a_selected_event_passes_the_selection(augmentation):
    # Events whose hardest lepton sits just above 23 GeV: a careless split or downward
    # rescaling would fail the selection, a cue that real events never give.
    events = _events(11, n=2048)
    table = slot_table("adc2021", events)
    lead = trigger_object(events, table)
    soft = 23.5 + 10 * torch.rand(len(events), 1, generator=_gen(1))
    events[..., 0] = torch.where(lead, soft.expand_as(lead), events[..., 0])
    selected = passes_selection(events, table)
    assert selected.float().mean() > 0.9
    out = augmentation(events[selected], generator=_gen(2))
    assert passes_selection(out, table).all()


@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_add_objects_keeps_the_event_balanced_and_adds(seed):
    events = _events(seed, n=64)
    out = AddObjects()(events, generator=_gen(seed))
    # MET + all objects: the vector sum is the same before and after.
    torch.testing.assert_close(_vector_sum(out), _vector_sum(events), atol=1e-3, rtol=1e-5)
    n_before = (events[..., 3] != 0).sum(1)
    n_after = (out[..., 3] != 0).sum(1)
    room = n_before < 19
    assert (n_after[room] > n_before[room]).all()
    # Every original object is still there (pT multiset per type unchanged or grown).
    for name in ("ele", "mu", "jet"):
        slots = ADC2021.slots_of(name)
        before = set(events[:, slots, 0][events[:, slots, 3] != 0].tolist())
        after = set(out[:, slots, 0][out[:, slots, 3] != 0].tolist())
        assert before <= after


def test_add_objects_draws_within_acceptance_and_pt_range():
    events = _events(4, n=512)
    out = AddObjects()(events, generator=_gen(0))
    _assert_valid_layout(out)
    max_pt = events[:, 1:, 0].amax(1, keepdim=True)
    jets = out[:, 9:]
    present = jets[..., 3] != 0
    assert (jets[..., 0][present] >= 15.0).all()
    assert (jets[..., 0] <= torch.maximum(max_pt, torch.tensor(15.0)) + 1e-3)[present].all()
    assert (jets[..., 1].abs() < 4.0)[present].all()


def test_add_objects_updates_met_phi():
    events = torch.zeros(1, 19, 4)
    events[0, 0] = torch.tensor([30.0, 0.0, 0.0, 1.0])
    events[0, 1] = torch.tensor([30.0, 0.0, np.pi - 1e-6, 2.0])
    out = AddObjects()(events, generator=_gen(0))
    added = _vector_sum(out[:, 1:]) - _vector_sum(events[:, 1:])
    met = out[0, 0]
    expected = torch.tensor([30.0, 0.0], dtype=torch.float64) - added[0]
    torch.testing.assert_close(met[0].double(), torch.linalg.vector_norm(expected), atol=1e-3,
                               rtol=1e-4)
    torch.testing.assert_close(met[2].double(), torch.atan2(expected[1], expected[0]), atol=1e-4,
                               rtol=1e-4)


@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_collinear_split_keeps_each_types_pt_and_occupied_slots(seed):
    events = _events(seed, n=64)
    out = CollinearSplit()(events, generator=_gen(seed))
    for name in ("met", "ele", "mu", "jet"):
        torch.testing.assert_close(_type_pt(out, name), _type_pt(events, name), rtol=1e-5,
                                   atol=1e-3)
    # Each original (eta, phi) is still present, so no occupied slot was overwritten; and each
    # new object shares the (eta, phi) of an original object of its type.
    def directions(event, slots):
        return {(round(float(r[1]), 5), round(float(r[2]), 5)) for r in event[slots] if r[3] != 0}

    for b in range(len(events)):
        for name in ("ele", "mu", "jet"):
            slots = ADC2021.slots_of(name)
            assert directions(out[b], slots) == directions(events[b], slots)
    assert ((out[..., 3] != 0).sum() > (events[..., 3] != 0).sum())


def test_collinear_split_products_pass_thresholds():
    events = _events(5, n=512)
    out = CollinearSplit()(events, generator=_gen(0))
    _assert_valid_layout(out)
    pt_min = torch.as_tensor(ADC2021.slot_attribute("pt_min"), dtype=out.dtype)
    present = out[..., 3] != 0
    assert (out[..., 0] >= pt_min - 1e-4)[present].all()


def test_rescalings():
    events = _events(6)
    met = ShiftMET()(events, generator=_gen(0))
    ratio = met[:, 0, 0] / events[:, 0, 0]
    assert ((ratio >= 1.5 - 1e-4) & (ratio <= 3 + 1e-4) | (ratio <= 1 / 1.5 + 1e-4)).all()
    torch.testing.assert_close(met[:, 1:], events[:, 1:])
    pt = ScalePT()(events, generator=_gen(0))
    torch.testing.assert_close(pt[:, 0], events[:, 0])
    _assert_valid_layout(pt)


@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_add_invisible_moves_met_by_a_vector_within_range(seed):
    events = _events(seed, n=64)
    out = AddInvisible(pt_min=10.0)(events, generator=_gen(seed))
    torch.testing.assert_close(out[:, 1:], events[:, 1:])  # visible objects untouched
    # MET changes by a vector (the invisible particle) with pT in [10 GeV, largest visible pT].
    invisible = torch.linalg.vector_norm(_vector_sum(out[:, :1]) - _vector_sum(events[:, :1]),
                                         dim=1)
    largest = events[:, 1:, 0].amax(1).clamp(min=10.0).double()
    assert (invisible >= 10.0 - 1e-3).all() and (invisible <= largest + 1e-3).all()
    assert float(invisible.std()) > 1.0  # drawn, not fixed


@settings(max_examples=20, deadline=None)
@given(seed=seeds, n=st.integers(2, 64))
def test_swap_met_gives_each_event_another_events_met(seed, n):
    events = _events(seed, n=n)
    out = SwapMET()(events, generator=_gen(seed))
    torch.testing.assert_close(out[:, 1:], events[:, 1:])  # visible objects untouched
    met, swapped = _vector_sum(events[:, :1]), _vector_sum(out[:, :1])
    # Every event's MET is another event's, and the batch's MET values are all still there:
    # the donor of event i is event i + k (cyclically) for one k in [1, n - 1].
    shifts = [k for k in range(1, n)
              if torch.allclose(swapped, met.roll(-k, 0), rtol=1e-5, atol=1e-3)]
    assert shifts


def test_swap_met_of_one_event_keeps_it():
    events = _events(3, n=1)
    torch.testing.assert_close(SwapMET()(events, generator=_gen(0)), events, atol=1e-4,
                               rtol=1e-5)


def test_one_of_gives_each_event_exactly_one():
    events = _events(7, n=512)
    one_of = OneOf([ShiftMET(), AddObjects()])
    out = one_of(events, generator=_gen(0))
    met_changed = ~torch.isclose(out[:, 0, 0], events[:, 0, 0])
    objects_added = (out[..., 3] != 0).sum(1) > (events[..., 3] != 0).sum(1)
    scaled_only = met_changed & ~objects_added
    assert scaled_only.any() and objects_added.any()
    # An event that got ShiftMET has its visible objects untouched.
    torch.testing.assert_close(out[scaled_only, 1:], events[scaled_only, 1:])


@given(seed=seeds)
@settings(max_examples=10, deadline=None)
def test_one_of_sorts_once_and_gives_what_its_candidates_give(seed):
    """OneOf puts the drawn views in slot order once, together; each event's view is exactly
    what its candidate, called alone on the same random numbers, gives it."""
    events = _events(seed % 1000, n=128)
    one_of = OneOf([AddObjects(), CollinearSplit(), ShiftMET(), ScalePT(), SmearJetEnergy()])
    out = one_of(events, generator=_gen(seed))
    generator = _gen(seed)  # the draws in OneOf's order: the choice, then every candidate
    choice = torch.randint(len(one_of.augmentations), (len(events),), generator=generator)
    views = torch.stack([a(events, generator=generator) for a in one_of.augmentations])
    assert torch.equal(out, views[choice, torch.arange(len(events))])
    _assert_valid_layout(out)


def test_make_augmentation_errors():
    with pytest.raises(ValueError, match="Unknown augmentation 'flip'"):
        make_augmentation("flip", "adc2021")
    with pytest.raises(ValueError, match="needs collider events"):
        make_augmentation("rotate_phi", "tabular")
