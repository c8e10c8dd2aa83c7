"""Pre-training built once and reused (pretrain=conll04), and a final run on every document whose model
card quotes the cross-validation estimate of its recipe."""

import json
import logging

import pytest

from tests.conftest import TINY, compose_config, conll04_folder


def small_conll04(folder):
    for split in ("train", "dev", "test"):
        items = json.loads((conll04_folder() / f"conll04_{split}.json").read_text())
        (folder / f"conll04_{split}.json").write_text(json.dumps(items[:12]))
    return folder


def run_with_pretraining(tmp_path, name, *extra):
    from ie.training.train import train

    small = tmp_path / "conll04_small"
    if not small.exists():
        small.mkdir()
        small_conll04(small)
    cfg = compose_config(
        "train",
        TINY
        + [
            "pretrain=conll04",
            f"pretrain.data.path={small}",
            f"pretrain.cache_dir={tmp_path / 'cache'}",
            "pretrain.trainer.ner.epochs=1",
            "pretrain.trainer.re.epochs=1",
            "pretrain.trainer.report_to=[]",
            "trainer.report_to=[]",
            f"paths.output_dir={tmp_path / name}",
            *extra,
        ],
    )
    train(cfg)
    return tmp_path / name


def keys(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").iterdir() if p.is_dir())


def test_pretraining_is_built_once_per_key_and_reused(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ie.training.pretrain")
    first = run_with_pretraining(tmp_path, "first")
    (key,) = keys(tmp_path)
    built = (tmp_path / "cache" / key / "metrics.json").stat().st_mtime_ns
    second = run_with_pretraining(tmp_path, "second")
    assert keys(tmp_path) == [key] and (tmp_path / "cache" / key / "metrics.json").stat().st_mtime_ns == built
    messages = [r.message for r in caplog.records]
    assert sum("building" in m for m in messages) == 1 and any("reusing" in m for m in messages)
    for run in (first, second):  # each run records where its models started, in its config and its card
        folder = tmp_path / "cache" / key
        assert f"init_from: {folder}" in (run / "config.yaml").read_text()
        assert f"initialised from the checkpoints of run `{folder}`" in (run / "README.md").read_text()
    (tmp_path / "cache" / key / "metrics.json").unlink()  # as if a build was killed before its end
    run_with_pretraining(tmp_path, "third", "pretrain.seed=7")  # another setting: another key
    assert len(keys(tmp_path)) == 2 and key in keys(tmp_path)
    run_with_pretraining(tmp_path, "fourth")  # the unfinished build is built again, not reused
    assert sum("building" in r.message for r in caplog.records) == 3
    assert (tmp_path / "cache" / key / "metrics.json").is_file()


def test_a_final_run_trains_on_every_document_and_its_card_quotes_the_estimate(tmp_path):
    from ie.training.train import train

    estimate = tmp_path / "compare.json"
    stat = {"mean": 0.75, "std": 0.02, "n": 3, "values": [0.73, 0.75, 0.77]}
    metrics = dict.fromkeys(("precision", "recall", "f1", "macro_f1"), stat)
    estimate.write_text(
        json.dumps(
            {
                "split": "test",
                "baseline": "recipe",
                "groups": {
                    "recipe": {
                        "seeds": [1, 2, 3],
                        "metrics": {"ner.strict": metrics},
                        "config": {"model.word_shapes": "case", "data.folds": "5", "trainer.ner.epochs": "1.0"},
                    }
                },
            }
        )
    )
    out = tmp_path / "final"
    cfg = compose_config(
        "train",
        TINY + ["experiment=seeds_final", f"estimate={estimate}", f"paths.output_dir={out}", "trainer.report_to=[]"],
    )
    assert train(cfg) == {} and not (out / "metrics.json").exists()
    report = json.loads((out / "data_report.json").read_text())
    copies = 1 + cfg.data.mention_replacement  # each article and its mention-swapped copies
    assert list(report["splits"]) == ["train"] and report["splits"]["train"]["documents"] == 5 * copies
    card = (out / "README.md").read_text()
    assert "**Estimate**" in card and "| NER | 0.750 ± 0.020 |" in card and "not a test of this model" in card
    assert "differs from this run's in: model.word_shapes" in card and "data.folds" not in card.split("differs")[1]


def test_joint_training_adds_the_other_corpus_and_weighs_the_seeds_in_training_only(tmp_path):
    from ie.training.prepare import load_data

    small = small_conll04(tmp_path)
    cfg = compose_config(
        "train",
        [
            "mix=conll04",
            f"mix.data.path={small}",
            "mix.weight=2",
            "paths.output_dir=/tmp/x",
            "data.mention_replacement=0",
        ],
    )  # the seeds as annotated, copied by weight alone
    data = load_data(cfg)
    train, test = data.splits["train"], data.splits["test"]
    own = [d for d in train if not d.startswith("mix:") and "~w" not in d]
    assert sorted(d for d in train if d.startswith("mix:")) == ["mix:dev", "mix:train"]
    assert sorted(d for d in train if "~w" in d) == sorted(f"{d}~w2" for d in own) and len(own) == 4
    assert test == ["004_8167059eeef70516"] and len(data.ner["test"]) == 17  # evaluation sees the seeds alone
    plain = load_data(compose_config("train", ["paths.output_dir=/tmp/x", "data.mention_replacement=0", "mix=none"]))
    assert len(data.ner["train"]) == 2 * len(plain.ner["train"]) + 24  # the seeds twice, 12 + 12 CoNLL04 items


def test_a_mix_alone_trains_a_run_tested_on_every_document_of_its_own_data():
    """The authored corpus alone, scored on all five seed articles: no seed article is trained on."""
    from ie.training.prepare import load_data

    cfg = compose_config(
        "train", ["mix=authored", "data.splits.train=[]", "data.splits.test=null", "paths.output_dir=/tmp/x"]
    )
    data = load_data(cfg)
    assert len(data.splits["test"]) == 5 and all(d.startswith("mix:a") for d in data.splits["train"])
    assert len(data.splits["train"]) == 40  # the corpus's train split, never its dev or test articles


def test_the_default_run_pretrains_and_pretrain_none_turns_it_off():
    assert compose_config("train", [])["pretrain"]["data"]["name"] == "conll04_seed_schema"
    assert compose_config("train", ["pretrain=none"])["pretrain"] is None
    assert compose_config("train", ["debug=fast"])["pretrain"] is None


def test_the_main_job_trains_without_pretraining_where_conll04_is_missing(tmp_path, caplog):
    """Not asked for (the default pretrain=conll04): one warning line, then the run trains from the encoder
    and records that it did; asked for (pretrain.required, which train.py sets when the command line names
    pretrain): the reader's one-line error that says where to put the files."""
    from ie.data.problems import AnnotationError
    from ie.training.train import train

    caplog.set_level(logging.WARNING, logger="ie.training.pretrain")
    missing = tmp_path / "no_conll04"
    base = TINY + [
        "pretrain=conll04",
        f"paths.conll04={missing}",
        "task=ner",
        "trainer.report_to=[]",
        f"pretrain.cache_dir={tmp_path / 'cache'}",
    ]
    train(compose_config("train", base + [f"paths.output_dir={tmp_path / 'run'}"]))
    (line,) = [r.getMessage() for r in caplog.records]
    assert (
        line.startswith(
            f"pretrain: {missing / 'conll04_train.json'} is missing, so this run trains without pre-training"
        )
        and "IE_CONLL04_DIR" in line
        and "\n" not in line
    )
    assert "pretrain: null" in (tmp_path / "run" / "config.yaml").read_text()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    with pytest.raises(AnnotationError, match="conll04_train.json: CoNLL04 file not found"):
        train(compose_config("train", base + ["pretrain.required=true", f"paths.output_dir={tmp_path / 'asked'}"]))


def test_train_py_marks_pretraining_named_on_the_command_line_as_required(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "IE_CONLL04_DIR": str(tmp_path / "none")}
    command = [sys.executable, "train.py", "debug=fast", "pretrain=conll04", f"hydra.run.dir={tmp_path / 'run'}"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"train.py: error: {tmp_path / 'none' / 'conll04_train.json'}: CoNLL04 file not found")
    )
    assert "Traceback" not in done.stderr
