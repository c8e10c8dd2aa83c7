"""Sharded batch prediction: N processes cover a corpus with no document lost or repeated, and the merge
refuses anything else."""

import json

import pytest

from ie.inference.inputs import InputDocument, InputError
from ie.inference.shards import merge_shards, select_shard, shard_of, shard_output
from ie.predict import predict

from tests.conftest import compose_config

TEXTS = {f"doc{i:02d}": f"Denis Manturov met Emomali Rahmon in Dushanbe on July {i + 1}." for i in range(10)}


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for doc_id, text in TEXTS.items():
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return folder


def run_predict(run_dir, corpus, output, *extra):
    return predict(
        compose_config("predict", [f"run={run_dir}", f"input={corpus}", f"output={output}", "progress=false", *extra])
    )


def read_ids(path):
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_three_shards_cover_the_corpus_once_and_merge_to_the_single_process_output(run_dir, corpus, tmp_path):
    out = tmp_path / "out" / "pred.jsonl"
    for shard in range(3):
        run_predict(run_dir, corpus, out, f"shard={shard}", "num_shards=3")
    parts = [tmp_path / "out" / f"pred-{s:05d}-of-00003.jsonl" for s in range(3)]
    ids = [read_ids(p) for p in parts]
    assert sorted(sum(ids, [])) == sorted(TEXTS) and all(ids)  # disjoint, complete, none empty here
    assert not out.exists()
    assert run_predict(run_dir, corpus, out, "num_shards=3", "merge=true") == {"documents": 10, "shards": 3}
    single = tmp_path / "single.jsonl"
    run_predict(run_dir, corpus, single)
    assert out.read_text(encoding="utf-8") == single.read_text(encoding="utf-8")  # same lines, input order


def test_the_split_depends_on_the_ids_only():
    docs = [InputDocument(i, t, f"{i}.txt") for i, t in TEXTS.items()]
    forward = [{d.id for d in select_shard(docs, s, 3)} for s in range(3)]
    backward = [{d.id for d in select_shard(docs[::-1], s, 3)} for s in range(3)]
    assert forward == backward and set().union(*forward) == set(TEXTS)
    assert all(shard_of(i, 3) == s for s, ids in enumerate(forward) for i in ids)


def test_merge_refuses_a_missing_shard_a_repeated_or_unknown_document(tmp_path):
    docs = [InputDocument(i, t, f"{i}.txt") for i, t in TEXTS.items()]
    out = tmp_path / "pred.jsonl"

    def write_shards(extra_lines=()):
        for s in range(2):
            path = tmp_path / shard_output(str(out), "jsonl", s, 2)
            lines = [json.dumps({"id": d.id}) for d in select_shard(docs, s, 2)]
            path.write_text("\n".join(lines + list(extra_lines if s == 1 else [])) + "\n")

    write_shards()
    (tmp_path / "pred-00001-of-00002.jsonl").unlink()
    with pytest.raises(InputError, match=r"pred-00001-of-00002.jsonl: missing; run that shard again \(shard=1"):
        merge_shards(docs, str(out), "jsonl", 2)
    write_shards(extra_lines=[json.dumps({"id": "doc03"})])
    with pytest.raises(InputError, match=r"document 'doc03' was written 2 times \(.*jsonl:\d+, .*jsonl:\d+\)"):
        merge_shards(docs, str(out), "jsonl", 2)
    write_shards(extra_lines=[json.dumps({"id": "stranger"})])
    with pytest.raises(InputError, match="document 'stranger' is not among the inputs"):
        merge_shards(docs, str(out), "jsonl", 2)
    assert not out.exists()  # nothing half-written


def test_bad_shard_settings_fail_before_predicting(run_dir, corpus, tmp_path):
    with pytest.raises(InputError, match=r"shard=3: must be in \[0, 3\)"):
        run_predict(run_dir, corpus, tmp_path / "p.jsonl", "shard=3", "num_shards=3")
    with pytest.raises(InputError, match="each shard writes its own file"):
        run_predict(run_dir, corpus, "-", "shard=0", "num_shards=2")


def test_brat_shards_share_one_folder_and_the_merge_checks_every_document(run_dir, corpus, tmp_path):
    out = tmp_path / "to_correct"
    for shard in range(3):
        run_predict(run_dir, corpus, out, "format=brat", f"shard={shard}", "num_shards=3")
    assert sorted(p.stem for p in out.glob("*.ann")) == sorted(TEXTS)
    assert run_predict(run_dir, corpus, out, "format=brat", "num_shards=3", "merge=true")["documents"] == 10
    (out / "doc04.ann").unlink()
    with pytest.raises(InputError, match=r"no .ann for 1 of 10 documents, first 'doc04' \(shard \d of 3\)"):
        run_predict(run_dir, corpus, out, "format=brat", "num_shards=3", "merge=true")
