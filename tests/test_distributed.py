"""torchrun: processes agree on one run folder and only rank 0 writes (tiny model, seconds)."""

import json
import os
import socket
import subprocess
import sys
import time

import torch.multiprocessing as mp

from ie.evaluation.scoring import evaluate_run
from ie.training.resume import last_trainer_checkpoint

from tests.conftest import ROOT, compose_config


def _stamp_of_rank(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    from ie import distributed

    if rank == 1:
        time.sleep(1.5)  # started in a later second than rank 0
    out.put((rank, distributed.run_stamp(), distributed.run_stamp()))
    distributed.barrier()


def test_every_process_gets_the_run_stamp_of_rank_0():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_stamp_of_rank, args=(rank, port, out)) for rank in (0, 1)]
    for proc in procs:
        proc.start()
    stamps = {rank: (a, b) for rank, a, b in (out.get(timeout=120) for _ in procs)}
    for proc in procs:
        proc.join(timeout=60)
    assert stamps[0] == stamps[1] and stamps[0][0] == stamps[0][1]


def test_torchrun_two_processes_write_one_run_folder_once(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "train.py",
            "debug=fast",
            "trainer.disable_tqdm=true",
            f"paths.models_dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "debug").iterdir()
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [
            ".hydra",
            "README.md",
            "config.yaml",
            "data_report.json",
            "logs",
            "metrics.html",
            "metrics.json",
            "metrics.md",
            "metrics_confusion_entities.png",
            "metrics_confusion_relations_end_to_end.png",
            "metrics_confusion_relations_gold_entities.png",
            "ner",
            "predictions_test.jsonl",
            "re",
            "train.log",
            "trainer",
        ]
    )
    trainer = compose_config("train", ["debug=fast"]).trainer
    for task in ("ner", "re"):
        per_process = trainer[task].batch_size // 2  # the global batch, split over two processes
        assert per_process >= 1
        checkpoint = last_trainer_checkpoint(run / "trainer" / task)
        assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in checkpoint.iterdir()}  # two processes
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        assert state["train_batch_size"] == per_process
    assert evaluate_run(run) == json.loads((run / "metrics.json").read_text())
