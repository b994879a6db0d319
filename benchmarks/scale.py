"""Cost against size: synthetic shops of growing size, single process vs DGL's distributed engine on loopback.

    .venv/bin/python benchmarks/scale.py --sizes 1000000 [--parts 2 --trainers 2] [--out benchmarks/results/scale.md]

Per size (users = interactions / 25, items = interactions / 100), three phases, each a fresh process run through the
CLIs with ``train.num_threads=1``, ``train=minibatch`` (fan-outs [10, 5], GCN with 2 layers), one epoch:

1. ``hetrec-train train.mode=partition``: graph build (fresh cache) + METIS partition; wall seconds and peak RSS
   (``/usr/bin/time``), the partition step's own seconds (partition.json).
2. single process ``hetrec-train train=minibatch train.max_epochs=1``: epoch seconds (train_log.jsonl), wall seconds
   (graph from the cache of phase 1), peak RSS (metrics.json), test Recall@20.
3. ``hetrec-dist launch --parts P --trainers T`` on the partitions of phase 1: epoch seconds of rank 0, wall seconds,
   peak RSS of rank 0 (metrics.json) and of the other trainers (trainer<k>/trainer.json).

With several sizes the growth exponent b of cost = a * size^b is fitted (least squares in log-log). Results are
appended as a Markdown table to ``--out``; the figures include the load of a shared machine (the 1-minute load
average is recorded).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = "import sys; sys.argv[0] = 'hetrec-train'; from hetrec.cli import train_main; train_main()"


def _run(cmd: list[str], env: dict, timeout: float) -> tuple[float, float]:
    """Run ``cmd`` under /usr/bin/time; return (wall seconds, peak RSS GB of the process itself)."""
    with tempfile.NamedTemporaryFile(suffix=".time") as tf:
        t0 = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], env=env, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        kb = int(Path(tf.name).read_text().split()[-1])
    return wall, kb / 1024**2


def _epoch_seconds(run: Path) -> float:
    return float(json.loads((run / "train_log.jsonl").read_text().splitlines()[0])["seconds"])


def shop(n: int) -> list[str]:
    users, items = max(300, n // 25), max(150, n // 100)
    return [f"dataset.num_interactions={n}", f"dataset.num_users={users}", f"dataset.num_items={items}",
            f"dataset.num_pairs={min(200, items // 4)}", f"dataset.num_brands={min(40, items // 10)}"]


def measure(n: int, work: Path, parts: int, trainers: int, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    conf = ["-cp", str(ROOT / "conf")]
    common = [*conf, *shop(n), "train=minibatch", "encoder.num_layers=2", "train.max_epochs=1", "train.num_threads=1",
              "train.progress=false", f"cache_dir={work / 'cache'}"]
    py = sys.executable
    row: dict = {"interactions": n, "load1": round(os.getloadavg()[0], 2)}
    pdir = work / "parts"
    wall, rss = _run([py, "-c", TRAIN, *common, "train.mode=partition", f"dist.parts={parts}",
                      f"dist.partition_dir={pdir}", f"hydra.run.dir={work / 'partition'}"], env, timeout)
    row.update(build_partition_s=round(wall, 1), build_partition_peak_gb=round(rss, 2),
               partition_s=json.loads((pdir / "partition.json").read_text())["seconds"])
    single = work / "single"
    wall, _ = _run([py, "-c", TRAIN, *common, f"hydra.run.dir={single}"], env, timeout)
    m = json.loads((single / "metrics.json").read_text())
    row.update(single_epoch_s=_epoch_seconds(single), single_wall_s=round(wall, 1),
               single_peak_gb=m["peak_rss_gb"], single_recall20=round(m["test"]["recall@20"], 4))
    dist = work / "dist"
    wall, _ = _run([py, "-m", "hetrec.dist.launch", "launch", "--partition-dir", str(pdir), "--trainers",
                    str(trainers), "--run-dir", str(dist), "--timeout", str(timeout), "--", *common], env, timeout)
    m = json.loads((dist / "metrics.json").read_text())
    others = [json.loads(p.read_text())["peak_rss_gb"] for p in sorted(dist.glob("trainer*/trainer.json"))]
    row.update(dist_epoch_s=_epoch_seconds(dist), dist_wall_s=round(wall, 1), dist_rank0_peak_gb=m["peak_rss_gb"],
               dist_other_peak_gb=max(others) if others else None, dist_recall20=round(m["test"]["recall@20"], 4))
    return row


def growth(rows: list[dict], key: str) -> float | None:
    pts = [(math.log(r["interactions"]), math.log(r[key])) for r in rows if r.get(key)]
    if len(pts) < 2:
        return None
    mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000", help="comma-separated interaction counts")
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--trainers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=7200)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.md")
    args = ap.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        work = (args.work or Path(tempfile.mkdtemp(prefix="hetrec-scale-"))) / str(n)
        work.mkdir(parents=True, exist_ok=True)
        rows.append(measure(n, work, args.parts, args.trainers, args.timeout))
        print(json.dumps(rows[-1]), flush=True)
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k)) for k in keys) + " |" for r in rows]
    exps = {k: growth(rows, k) for k in ("build_partition_s", "single_epoch_s", "dist_epoch_s")}
    lines.append("")
    lines.append("growth exponents (cost ~ size^b): " + ", ".join(
        f"{k}: {'n/a (one size)' if v is None else f'{v:.2f}'}" for k, v in exps.items()))
    cmd = "python benchmarks/scale.py " + " ".join(sys.argv[1:])
    text = f"\n## {time.strftime('%Y-%m-%d %H:%M')} `{cmd}`\n\n" + "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
