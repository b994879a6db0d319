"""Registers ``train.mode=partition`` and ``train.mode=distributed`` with the app (imported by ``hetrec-train``)."""

from __future__ import annotations

from hetrec.train.app import JOB_RUNNERS


def _partition(cfg, run_dir):
    from hetrec.dist.partition import partition_job

    return partition_job(cfg, run_dir)


def _distributed(cfg, run_dir):
    from hetrec.dist.trainer import distributed_job

    return distributed_job(cfg, run_dir)


JOB_RUNNERS.setdefault("partition", _partition)
JOB_RUNNERS.setdefault("distributed", _distributed)
