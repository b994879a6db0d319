"""Link-prediction losses over one positive score and K negative scores per example."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bpr_loss", "bce_loss", "softmax_loss", "ccl_loss", "LOSSES"]


def _masked_mean_over_negatives(per: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return per.mean()
    m = mask.to(per.dtype)
    per_row = (per * m).sum(1) / m.sum(1).clamp_min(1.0)
    return per_row.mean()


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor | None = None, temperature: float = 1.0):
    """Bayesian personalised ranking ``-log sigmoid(s+ - s-)`` (Rendle et al., UAI 2009), averaged over valid pairs.

    Args:
        pos: positive scores. neg: negative scores. mask: which negatives are valid (default all).
        temperature: divides the score difference (default 1.0).

    Shapes:
        pos: ``[B]``; neg, mask: ``[B, K]``; output: scalar.
    """
    per = -F.logsigmoid((pos.unsqueeze(1) - neg) / temperature)
    return _masked_mean_over_negatives(per, mask)


def bce_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor | None = None, temperature: float = 1.0):
    """Binary cross-entropy: positives labelled 1, negatives 0 (negatives averaged per example, then summed with the
    positive term), as in GraphSAGE/PinSage-style link prediction (Hamilton et al., NeurIPS 2017).

    Shapes:
        pos: ``[B]``; neg, mask: ``[B, K]``; output: scalar.
    """
    pos_term = -F.logsigmoid(pos / temperature).mean()
    neg_term = _masked_mean_over_negatives(-F.logsigmoid(-neg / temperature), mask)
    return pos_term + neg_term


def softmax_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor | None = None, temperature: float = 0.1):
    """Sampled softmax / InfoNCE: cross-entropy of the positive among itself and its negatives, logits divided by a
    temperature (van den Oord et al., 2018; in-batch form as in Yi et al., RecSys 2019).

    Shapes:
        pos: ``[B]``; neg, mask: ``[B, K]``; output: scalar.
    """
    logits = torch.cat([pos.unsqueeze(1), neg], dim=1) / temperature
    if mask is not None:
        full = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        logits = logits.masked_fill(~full, float("-inf"))
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def ccl_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor | None = None, temperature: float = 1.0,
             margin: float = 0.8, negative_weight: float = 1.0):
    """Cosine contrastive loss of SimpleX (Mao et al., CIKM 2021): ``(1 - s+) + w * mean_j max(0, s_j - m)``, with
    cosine scores ``s``; only negatives more similar than the margin ``m`` are pushed away, and ``w`` weighs their
    mean against the positive term (SimpleX pairs it with hundreds of negatives). ``temperature`` is unused (the
    scores are cosines); valid negatives only (``mask``).

    Shapes:
        pos: ``[B]``; neg, mask: ``[B, K]``; output: scalar.
    """
    per = F.relu(neg - float(margin))
    return (1.0 - pos).mean() + float(negative_weight) * _masked_mean_over_negatives(per, mask)


LOSSES = {"bpr": bpr_loss, "bce": bce_loss, "softmax": softmax_loss, "ccl": ccl_loss}
