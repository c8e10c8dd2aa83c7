import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ie.data.dataset import build_datasets
from ie.data.formats.conll04 import default_folder, missing_files
from ie.data.formats.conll04 import read_records as read_conll04_records
from ie.data.problems import AnnotationError, ValidationError
from ie.data.readers import load_records
from ie.data.schema import Schema

from tests.conftest import CONLL04_SCHEMA, ROOT, compose_config

SHARED = Path(os.path.abspath(ROOT / ".." / "shared" / "benchmarks" / "conll04"))  # where CI's shared/ has them


@pytest.fixture(scope="module")
def conll_schema():
    return Schema.load(CONLL04_SCHEMA)


def test_test_split_matches_the_published_support_counts(conll_schema, conll04_dir):
    records = read_conll04_records(conll04_dir, conll_schema)
    assert {k: len(v) for k, v in records.items()} == {"train": 922, "dev": 231, "test": 288}
    test = records["test"]
    assert Counter(lab for r in test for *_, lab in r.entities) == {"Org": 198, "Loc": 427, "Other": 133, "Peop": 321}
    assert Counter(lab for r in test for *_, lab in r.relations) == {
        "Kill": 47,
        "OrgBased_In": 105,
        "Work_For": 76,
        "Located_In": 94,
        "Live_In": 100,
    }
    # tokens are kept as given, never re-tokenised
    first = json.loads((conll04_dir / "conll04_test.json").read_text())[0]
    assert test[0].words == first["tokens"]


def test_config_builds_the_same_dataset_form_as_the_seeds(conll_schema, conll04_dir):
    cfg = compose_config("train", ["data=conll04", "paths.output_dir=/tmp/x"])
    records = load_records(cfg.data.format, cfg.data.path, conll_schema)
    data = build_datasets({k: v[:5] for k, v in records.items()}, conll_schema, dict(cfg.data.splits))
    assert set(data.ner) == {"train", "dev", "test"}
    assert data.ner["test"].features["ner_tags"].feature.names[:3] == ["O", "B-Peop", "I-Peop"]
    assert data.re["test"].features["label"].names[0] == "no_relation"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda item: item["entities"][0].update(end=999), "outside the"),
        (lambda item: item["entities"][0].update(type="Person"), "unknown entity label 'Person'"),
        (lambda item: item["relations"][0].update(type="Kill"), "not allowed"),
        (lambda item: item.pop("tokens"), "lacks field"),
    ],
)
def test_bad_items_are_reported_with_file_and_item(conll_schema, conll04_dir, tmp_path, mutate, message):
    for split in ("train", "dev", "test"):
        shutil.copy(conll04_dir / f"conll04_{split}.json", tmp_path)
    items = json.loads((conll04_dir / "conll04_dev.json").read_text())
    mutate(items[3])
    (tmp_path / "conll04_dev.json").write_text(json.dumps(items))
    with pytest.raises(ValidationError, match=message) as err:
        read_conll04_records(tmp_path, conll_schema)
    assert "conll04_dev.json[3]" in str(err.value) and len(err.value.problems) == 1


# --- where the files are read from: in place, not from this repository ---------------------------------


def small_copy(source: Path, folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        items = json.loads((source / f"conll04_{split}.json").read_text())
        (folder / f"conll04_{split}.json").write_text(json.dumps(items[:n]))
    return folder


def test_the_default_reads_the_shared_folder_beside_the_repository(monkeypatch, conll_schema):
    monkeypatch.delenv("IE_CONLL04_DIR", raising=False)
    cfg = compose_config("train", ["data=conll04", "paths.output_dir=/tmp/x"])
    assert cfg.paths.conll04 == str(SHARED) == str(default_folder()) and ".." not in cfg.paths.conll04
    assert cfg.data.path == cfg.pretrain.data.path == str(SHARED)
    assert cfg.data.schema == str(CONLL04_SCHEMA)  # the schema stays the project's own
    assert not list((ROOT / "data" / "conll04").glob("conll04_*.json")), "CoNLL04's files are not committed here"
    if missing_files(SHARED):
        pytest.skip(f"{SHARED} does not hold CoNLL04's files on this machine")
    records = load_records(cfg.data.format, cfg.data.path, conll_schema)
    assert {k: len(v) for k, v in records.items()} == {"train": 922, "dev": 231, "test": 288}


def test_IE_CONLL04_DIR_and_paths_conll04_point_elsewhere(tmp_path, monkeypatch, conll_schema, conll04_dir):
    from_env, from_cli = small_copy(conll04_dir, tmp_path / "env", 3), small_copy(conll04_dir, tmp_path / "cli", 2)
    monkeypatch.setenv("IE_CONLL04_DIR", str(from_env))
    for overrides, folder, n in ([[], from_env, 3], [[f"paths.conll04={from_cli}"], from_cli, 2]):
        cfg = compose_config("train", ["data=conll04", "paths.output_dir=/tmp/x", *overrides])
        assert cfg.data.path == cfg.pretrain.data.path == str(folder)  # the command line wins over the environment
        records = load_records(cfg.data.format, cfg.data.path, conll_schema)
        assert {k: len(v) for k, v in records.items()} == {"train": n, "dev": n, "test": n}
    monkeypatch.setenv("IE_CONLL04_DIR", str(tmp_path / "env" / ".." / "env"))
    assert compose_config("train", ["data=conll04_seed_schema"]).data.path == str(from_env)  # normalised


def test_missing_files_fail_in_one_line_that_says_where_to_put_them(tmp_path, monkeypatch, conll_schema):
    empty = tmp_path / "none"
    monkeypatch.setenv("IE_CONLL04_DIR", str(empty))
    cfg = compose_config("train", ["data=conll04", "paths.output_dir=/tmp/x"])
    assert missing_files(cfg.data.path) == [str(empty / f"conll04_{s}.json") for s in ("train", "dev", "test")]
    with pytest.raises(AnnotationError) as err:
        load_records(cfg.data.format, cfg.data.path, conll_schema)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{empty / 'conll04_train.json'}: CoNLL04 file not found")
    for part in (f"in {empty}", "IE_CONLL04_DIR=", "paths.conll04=", "SpERT", "data/conll04/README.md"):
        assert part in message, part
    empty.mkdir()
    (empty / "conll04_train.json").write_text("[]")
    assert missing_files(empty) == [str(empty / "conll04_dev.json"), str(empty / "conll04_test.json")]
    with pytest.raises(AnnotationError, match="conll04_dev.json: CoNLL04 file not found .also missing: conll04_test"):
        read_conll04_records(empty, conll_schema)


def test_train_py_reports_missing_files_in_one_line(tmp_path):
    env = {**os.environ, "IE_CONLL04_DIR": str(tmp_path / "none")}
    command = [sys.executable, "train.py", "data=conll04", "debug=fast", f"hydra.run.dir={tmp_path / 'run'}"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert errors == [
        f"train.py: error: {tmp_path / 'none' / 'conll04_train.json'}: CoNLL04 file not found "
        f"(also missing: conll04_dev.json, conll04_test.json): put SpERT's CoNLL04 JSON release "
        f"(conll04_train.json, conll04_dev.json, conll04_test.json; sources and sha256 in "
        f"data/conll04/README.md) in {tmp_path / 'none'}, or point elsewhere with "
        f"IE_CONLL04_DIR=FOLDER or paths.conll04=FOLDER"
    ], done.stderr


def test_a_saved_config_naming_the_old_in_repo_folder_reads_the_files_in_place(
    monkeypatch, tmp_path, conll_schema, conll04_dir
):
    monkeypatch.setenv("IE_CONLL04_DIR", str(small_copy(conll04_dir, tmp_path / "small", 2)))
    records = read_conll04_records(ROOT / "data" / "conll04", conll_schema)  # as runs saved before did
    assert {k: len(v) for k, v in records.items()} == {"train": 2, "dev": 2, "test": 2}
