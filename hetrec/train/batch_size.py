"""The automatic mini-batch size (``train.batch_size: null``, the default of ``train=minibatch``)."""

from __future__ import annotations

__all__ = ["auto_batch_size", "MINIBATCH_MAX_BATCH", "MINIBATCH_MIN_STEPS"]

MINIBATCH_MAX_BATCH = 32768
"""The largest automatic mini-batch: with fan-outs [10, 5] a 2-hop neighbourhood of even 4096 seed edges touches
most of a Gowalla-sized graph, so per-batch cost grows far slower than the batch (conf/train/minibatch.yaml)."""
MINIBATCH_MIN_STEPS = 16
"""The automatic mini-batch gives an epoch at least this many optimizer steps where the training set allows."""


def auto_batch_size(num_edges: int, max_batch: int = MINIBATCH_MAX_BATCH, min_steps: int = MINIBATCH_MIN_STEPS) -> int:
    """``train.batch_size: null`` in mini-batch mode: the largest power of two ``<= num_edges / min_steps``, between
    64 and ``max_batch``. Gowalla (810k training edges) gets 32768 (25 steps an epoch), ml-100k (~80k) 4096 (~20
    steps), a 4,000-edge toy set 128 (~31 steps), where a fixed 32768 would make every epoch one step."""
    target = max(1, int(num_edges) // int(min_steps))
    return int(min(max_batch, max(64, 1 << (target.bit_length() - 1))))
