"""``hetrec-dist launch``: DGL graph servers and hetrec trainers started with DGL's environment variables (no ssh).

::

    hetrec-dist launch --parts 2 --trainers 2 --run-dir runs/d1 -- encoder=sage train.max_epochs=5
    hetrec-dist launch --partition-dir parts/ --trainers 4 -- <the partition's overrides>
    # several machines: the same command on each, with its --machine-rank (README "Distributed training")
    hetrec-dist launch --ip-config ip.txt --machine-rank 0 --partition-dir /shared/parts --trainers 2 -- ...

Without ``--ip-config`` everything runs on this host: part ``i`` is served as "machine" ``i`` at
``127.0.0.1:<port + i>``, and ``--trainers`` trainers are spread evenly over the parts. With ``--ip-config`` (one
``ip [port]`` line per machine, one machine per part) this host starts the servers and trainers of machine
``--machine-rank``; ranks are ``machine * trainers + local``; rank 0 (machine 0) writes the results.

When the partition folder does not exist yet (or ``--partition-dir`` is not given), the partition step runs first
(``hetrec-train train.mode=partition dist.parts=<--parts>`` with the same overrides). Logs of every process go to
``<run dir>/logs/``; a trainer that fails stops the others and the servers, and the launcher exits with its status.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main", "build_parser"]

TRAIN = ("import sys; sys.argv[0] = 'hetrec-train'; from hetrec.cli import train_main; train_main()")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_ip_config(path: Path, default_port: int) -> list[tuple[str, int]]:
    machines = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            machines.append((parts[0], int(parts[1]) if len(parts) > 1 else default_port))
        except ValueError:
            raise SystemExit(f"hetrec-dist: {path} line {n}: expected 'ip [port]', got {line!r}") from None
    if not machines:
        raise SystemExit(f"hetrec-dist: {path} lists no machine; write one 'ip [port]' line per machine")
    return machines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hetrec-dist", description="DGL distributed training of hetrec encoders")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("launch", help="start DGL servers and trainers (this host)")
    a.add_argument("--partition-dir", type=Path, default=None,
                   help="partitions written by train.mode=partition (default <run dir>/partitions, built if absent)")
    a.add_argument("--parts", type=int, default=None, help="parts to build when the partition folder is absent")
    a.add_argument("--part-method", default="metis", choices=("metis", "random"))
    a.add_argument("--trainers", type=int, default=None,
                   help="trainer processes: in all (one host), or per machine (--ip-config); default one per part")
    a.add_argument("--servers", type=int, default=1, help="DGL servers per part/machine (default 1; "
                   "dist.sparse_embedding=true needs 1: DGL's sparse optimizer)")
    a.add_argument("--run-dir", type=Path, default=None, help="results of rank 0 (default outputs/dist-<time>)")
    a.add_argument("--ip-config", type=Path, default=None, help="one 'ip [port]' line per machine (several hosts)")
    a.add_argument("--machine-rank", type=int, default=0, help="this host's line in --ip-config (0 = first)")
    a.add_argument("--port", type=int, default=None, help="first server port (default: free ports)")
    a.add_argument("--master-port", type=int, default=None, help="torch.distributed port on machine 0")
    a.add_argument("--timeout", type=float, default=None, help="seconds before every process is stopped")
    a.add_argument("overrides", nargs="*", help="hetrec-train overrides (after --)")
    return p


def _stop(procs) -> None:
    for _name, proc, _log in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 10
    for _name, proc, _log in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _loopback(args, run_dir: Path, folder: Path, nparts: int) -> int:
    """Every part on this host: part ``i`` is machine ``i`` of an ip list of 127.0.0.1 ports, and each machine's
    servers and trainers run in their own mount namespace with a private ``/dev/shm`` (DGL names its shared memory
    by graph and feature, so two machines' servers on one host would overwrite each other's). Needs root and
    util-linux ``unshare`` when there is more than one part."""
    total = args.trainers or nparts
    if total % nparts:
        print(f"hetrec-dist: --trainers {total} must be a multiple of the {nparts} parts", file=sys.stderr)
        return 2
    base = args.port
    ports = [base + i for i in range(nparts)] if base else [_free_port() for _ in range(nparts)]
    ip_config = run_dir / "ip_config.txt"
    ip_config.write_text("".join(f"127.0.0.1 {p}\n" for p in ports))
    common = ["--ip-config", str(ip_config), "--partition-dir", str(folder), "--trainers", str(total // nparts),
              "--servers", str(args.servers), "--run-dir", str(run_dir), "--master-port",
              str(args.master_port or _free_port())]
    if args.timeout:
        common += ["--timeout", str(args.timeout)]
    me = [sys.executable, "-m", "hetrec.dist.launch", "launch"]
    if nparts == 1:
        return launch(build_parser().parse_args(["launch", *common, "--machine-rank", "0", "--", *args.overrides]))
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print(f"hetrec-dist: {nparts} parts on one host need a private /dev/shm per part (DGL names shared memory by "
              f"feature), made with `unshare -m` (root and util-linux); run as root, use one part (--parts 1), or "
              f"one machine per part with --ip-config", file=sys.stderr)
        return 2
    wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs tmpfs /dev/shm && exec "$@"',
            "sh"]
    kids = [subprocess.Popen([*wrap, *me, *common, "--machine-rank", str(m), "--", *args.overrides])
            for m in range(nparts)]
    codes = [None] * nparts
    try:
        while any(c is None for c in codes):
            codes = [k.poll() for k in kids]
            if any(c not in (None, 0) for c in codes):
                break
            time.sleep(0.5)
    finally:  # a failed machine, or this launcher stopped (SIGTERM): the other machines' launchers stop theirs
        for k in kids:
            if k.poll() is None:
                k.send_signal(signal.SIGTERM)
        for k in kids:
            k.wait()
    bad = [c for c in codes if c not in (None, 0)]
    return bad[0] if bad else 0


def launch(args) -> int:
    run_dir = (args.run_dir or Path("outputs") / time.strftime("dist-%Y-%m-%d_%H-%M-%S")).resolve()
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    folder = (args.partition_dir or run_dir / "partitions").resolve()
    py = sys.executable
    overrides = list(args.overrides)
    conf = folder / "parts" / "hetrec.json"
    if not conf.exists():
        if args.parts is None:
            print(f"hetrec-dist: no partitions in {folder}; give --parts N to build them, or --partition-dir of a "
                  f"folder written by hetrec-train train.mode=partition", file=sys.stderr)
            return 2
        if args.ip_config is not None and args.machine_rank != 0:
            print(f"hetrec-dist: no partitions in {folder}; machine 0 builds them, the others need them in place "
                  f"(a shared folder or a copy) before they start", file=sys.stderr)
            return 2
        cmd = [py, "-c", TRAIN, *overrides, "train.mode=partition", f"dist.parts={args.parts}",
               f"dist.part_method={args.part_method}", f"dist.partition_dir={folder}",
               f"hydra.run.dir={run_dir / 'partition'}"]
        print(f"hetrec-dist: partitioning into {folder}", flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            return rc
    import json

    nparts = int(json.loads(conf.read_text())["num_parts"])
    if args.ip_config is None:
        return _loopback(args, run_dir, folder, nparts)
    machines = _read_ip_config(args.ip_config, args.port or 30050)
    if len(machines) != nparts:
        print(f"hetrec-dist: {args.ip_config} lists {len(machines)} machines but the partition has {nparts} parts; "
              f"DGL serves one part per machine: partition again with --parts {len(machines)}", file=sys.stderr)
        return 2
    if not 0 <= args.machine_rank < len(machines):
        print(f"hetrec-dist: --machine-rank {args.machine_rank} is not a line of {args.ip_config}", file=sys.stderr)
        return 2
    local, per_machine, ip_config = [args.machine_rank], args.trainers or 1, args.ip_config.resolve()
    total = per_machine * len(machines)
    master = (machines[0][0], args.master_port or 29500)
    dgl_env = {
        "DGL_IP_CONFIG": str(ip_config), "DGL_CONF_PATH": str(conf), "DGL_NUM_SERVER": str(args.servers),
        "DGL_NUM_CLIENT": str(total), "DGL_NUM_SAMPLER": "0", "DGL_GRAPH_FORMAT": "csc,coo",  # coo: find_edges
        "OMP_NUM_THREADS": "1",
    }
    procs = []

    def start(name, cmd, env):
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 (closed at the end)
        proc = subprocess.Popen(cmd, env={**os.environ, **dgl_env, **env}, stdout=log, stderr=subprocess.STDOUT)
        procs.append((name, proc, log))
        return proc

    servers, trainers = [], []
    for m in local:
        for j in range(args.servers):
            sid = m * args.servers + j
            servers.append(start(f"server{sid}", [py, "-m", "hetrec.dist.server"],
                                 {"DGL_ROLE": "server", "DGL_SERVER_ID": str(sid)}))
    for m in local:
        for j in range(per_machine):
            rank = m * per_machine + j
            rdir = run_dir if rank == 0 else run_dir / f"trainer{rank}"
            cmd = [py, "-c", TRAIN, *overrides, "train.mode=distributed", f"dist.partition_dir={folder}",
                   f"hydra.run.dir={rdir}"]
            env = {"DGL_ROLE": "client", "DGL_DIST_MODE": "distributed", "DGL_GROUP_ID": "0",
                   "HETREC_DIST_MACHINE_ID": str(m), "MASTER_ADDR": master[0], "MASTER_PORT": str(master[1]),
                   "RANK": str(rank), "WORLD_SIZE": str(total), "LOCAL_RANK": str(j)}
            trainers.append((rank, start(f"trainer{rank}", cmd, env)))
    print(f"hetrec-dist: {len(servers)} servers and {len(trainers)} trainers on this host (of {total} trainers); "
          f"logs in {logs}", flush=True)
    t0, failed = time.time(), None
    try:
        while True:
            codes = {rank: p.poll() for rank, p in trainers}
            bad = {r: c for r, c in codes.items() if c not in (None, 0)}
            dead = [s for s in servers if s.poll() not in (None, 0)]
            if bad or (dead and any(c is None for c in codes.values())):
                failed = bad or {"server": dead[0].returncode}
                break
            if all(c == 0 for c in codes.values()):
                break
            if args.timeout and time.time() - t0 > args.timeout:
                failed = {"timeout": args.timeout}
                break
            time.sleep(0.5)
        if failed is None:
            for s in servers:  # they leave once every trainer has left
                try:
                    s.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    pass
    finally:
        _stop(procs)
        for _n, _p, log in procs:
            log.close()
    if failed:
        who = ", ".join(f"{k}: exit {v}" for k, v in failed.items())
        print(f"hetrec-dist: stopped ({who}); see {logs}/ (each process's output). Rank 0's checkpoint in {run_dir} "
              f"resumes: rerun the same command", file=sys.stderr)
        code = next(iter(failed.values()))
        return code if isinstance(code, int) and 0 < code < 256 else 1
    print(f"hetrec-dist: done; results in {run_dir} (metrics.json, artifact/)")
    return 0


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # runs the launcher's clean-up (stops its servers and trainers)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    args = build_parser().parse_args(argv)
    args.overrides = [*args.overrides, *extra]
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())
