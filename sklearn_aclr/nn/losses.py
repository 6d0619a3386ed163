"""Contrastive losses as pure functions of representations; device-agnostic.

All take un-normalised representations of shape (B, D) and a temperature; they normalise,
so only directions matter. ``z[i]``, ``z_phys[i]`` and ``z_anom[i]`` are the original,
physical and anomalous views of event ``i``. ``anomclr_loss`` and ``anomclr_plus_loss`` are
the definitions of Dillon et al. (arXiv:2301.04660); ``anomclr_batch_loss`` is a variant of
this package.
"""

import torch
import torch.nn.functional as F

from sklearn_aclr._docs import fill_doc

__all__ = ["anomclr_loss", "anomclr_plus_loss", "simclr_loss"]


def _similarities(anchors):
    """The (2B, 2B) cosine similarities of the normalised anchors (originals, then physical
    views), and each anchor's similarity to its partner (2B,): anchor ``i < B`` pairs with
    ``B + i`` and back, the two off-diagonals at distance B."""
    n = len(anchors) // 2
    sim = anchors @ anchors.T
    return sim, torch.cat([sim.diagonal(n), sim.diagonal(-n)])


def _partners(n_anchors, device):
    """The index of each anchor's partner, (2B,)."""
    return (torch.arange(n_anchors, device=device) + n_anchors // 2) % n_anchors


def _negatives(sim, temperature):
    """``sim / tau`` with ``-inf`` at each anchor itself and at its partner (2B, 2B): the
    similarities to the other events' views."""
    idx = torch.arange(len(sim), device=sim.device)
    others = torch.ones_like(sim, dtype=torch.bool)
    others[idx, idx] = False
    others[idx, _partners(len(sim), sim.device)] = False
    return (sim / temperature).masked_fill(~others, float("-inf"))


def _anomclr_terms(z, z_phys, z_anom, temperature):
    """The numerator of the AnomCLR losses, ``(p - q) / tau`` per anchor (2B,), with the
    anchors' similarity matrix (2B, 2B) and the normalised anchors (2B, D) and anomalous views
    (B, D) for the denominators.

    As in the authors' code, ``q_i = cos(z_i, z_i_anom)`` uses the original event for both
    halves: the anomalous view is a negative of the event, whichever view anchors the term.
    Only what every AnomCLR loss needs is computed here; AnomCLR+ has no denominator.
    """
    n = len(z)
    # all views normalised at once: (3B, D), then the anchors (2B, D) and anomalous views
    anchors, anomalous = F.normalize(torch.cat([z, z_phys, z_anom]), dim=1).split([2 * n, n])
    sim, p = _similarities(anchors)
    q = (anchors[:n] * anomalous).sum(1).repeat(2)  # (2B,), cos(z_i, z_i_anom) twice
    return (p - q) / temperature, sim, anchors, anomalous


def simclr_loss(z, z_phys, *, temperature=0.1):
    """NT-Xent (SimCLR) loss: each view's partner against all other views in the batch.

    ``loss_i = -log( exp(s_i,partner / tau) / sum_{k != i} exp(s_ik / tau) )``, averaged over
    the 2B views.

    Parameters
    ----------
    z, z_phys : Tensor of shape (B, D)
        Representations of the events and of their physical views.
    temperature : float, default=0.1
        ``tau``.

    Returns
    -------
    loss : Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import simclr_loss
    >>> z = torch.eye(2)
    >>> round(float(simclr_loss(z, z, temperature=1.0)), 4)  # -log(e / (e + 2))
    0.5514
    """
    sim, _ = _similarities(F.normalize(torch.cat([z, z_phys]), dim=1))
    partner = _partners(len(sim), sim.device)
    logits = sim / temperature
    logits = logits.masked_fill(torch.eye(len(sim), dtype=torch.bool, device=sim.device),
                                float("-inf"))
    return F.cross_entropy(logits, partner)


@fill_doc
def anomclr_loss(z, z_phys, z_anom, *, temperature=0.1):
    """AnomCLR loss: pull the physical view in, push the anomalous view out.

    With cosine similarities ``p_i = cos(z_i, z_i_phys)`` and ``q_i = cos(z_i, z_i_anom)``,

    ``loss_i = -log( exp((p_i - q_i) / tau) / sum_{k != i, partner} exp(s_ik / tau) )``,

    averaged over the 2B anchors (originals and physical views; ``q`` always compares the
    original event with its anomalous view, as in the authors' definition). The denominator
    runs over the other events' views, as in SimCLR without the positive.

    %(three_view_loss)s

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import anomclr_loss
    >>> z = torch.eye(2)
    >>> # p = 1, q = 0 and s_ik = 0 for the two other anchors: -log(e / 2)
    >>> round(float(anomclr_loss(z, z, z.flip(1), temperature=1.0)), 4)
    -0.3069
    """
    positive, sim, _, _ = _anomclr_terms(z, z_phys, z_anom, temperature)
    return (torch.logsumexp(_negatives(sim, temperature), dim=1) - positive).mean()


@fill_doc
def anomclr_plus_loss(z, z_phys, z_anom, *, temperature=0.1):
    """AnomCLR+ loss: the AnomCLR numerator without a denominator.

    ``loss_i = -(p_i - q_i) / tau``, averaged over the 2B anchors, with ``p`` and ``q`` as in
    :func:`anomclr_loss`: the physical view is pulled in and the anomalous view pushed out, and
    other events play no part. The temperature only scales the loss here.

    %(three_view_loss)s

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import anomclr_plus_loss
    >>> z, z_anom = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    >>> float(anomclr_plus_loss(z, z, z_anom, temperature=1.0))  # one event is enough: -(1 - 0)
    -1.0
    """
    positive, _, _, _ = _anomclr_terms(z, z_phys, z_anom, temperature)
    return -positive.mean()


@fill_doc
def anomclr_batch_loss(z, z_phys, z_anom, *, temperature=0.1):
    """AnomCLR with the anomalous views of every event among the negatives (a variant).

    The numerator of :func:`anomclr_loss`; the denominator also sums ``exp(cos(a_i, z_k_anom) /
    tau)`` over the anomalous views of all events ``k``, so that anomalous views are pushed
    away from every background event, not only from their own. Not in the paper.

    %(three_view_loss)s

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import anomclr_batch_loss
    >>> # p = 1, q = 0; negatives: two other anchors (cos 0), two anomalous views (cos 0, 1)
    >>> z = torch.eye(2)
    >>> round(float(anomclr_batch_loss(z, z, z.flip(1), temperature=1.0)), 4)  # -log(e/(3+e))
    0.7437
    """
    positive, sim, anchors, anomalous = _anomclr_terms(z, z_phys, z_anom, temperature)
    to_anomalous = anchors @ anomalous.T / temperature  # (2B, B)
    log_denominator = torch.logsumexp(
        torch.cat([_negatives(sim, temperature), to_anomalous], dim=1), dim=1)
    return (log_denominator - positive).mean()


_LOSSES = {"anomclr": anomclr_loss, "anomclr_plus": anomclr_plus_loss,
           "anomclr_batch": anomclr_batch_loss, "simclr": simclr_loss}


class ContrastiveLoss:
    """Criterion around the loss functions, for skorch.

    Takes the representations of all views stacked along the batch axis, originals first, then
    physical views, then (for the AnomCLR losses) anomalous views. A plain callable rather
    than a ``torch.nn.Module``: it has no parameters, and skorch (with Accelerate) wraps only
    modules for data-parallel training, which refuses modules without trainable parameters.

    Parameters
    ----------
    kind : {"anomclr", "anomclr_plus", "anomclr_batch", "simclr"}, default="anomclr"
        Which loss.
    temperature : float, default=0.1
        ``tau``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.nn import ContrastiveLoss
    >>> z, z_phys, z_anom = torch.eye(2), torch.eye(2), torch.eye(2).flip(1)
    >>> round(float(ContrastiveLoss(temperature=1.0)(torch.cat([z, z_phys, z_anom]))), 4)
    -0.3069
    """

    def __init__(self, *, kind="anomclr", temperature=0.1):
        if kind not in _LOSSES:
            raise ValueError(f"Unknown loss {kind!r}; expected one of {sorted(_LOSSES)}.")
        self.kind = kind
        self.temperature = temperature

    @property
    def n_views(self):
        return 2 if self.kind == "simclr" else 3

    def __call__(self, stacked):  # (n_views * B, D)
        views = stacked.chunk(self.n_views)
        if len(views[0]) < 2:
            raise ValueError(
                "Contrastive losses compare each event with the others in its batch, so a batch "
                "needs at least 2 events."
            )
        return _LOSSES[self.kind](*views, temperature=self.temperature)

    forward = __call__  # the name it had as a torch.nn.Module
