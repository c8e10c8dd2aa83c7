"""Batch prediction on Ray Data (ie/integrations/ray.py, ``python -m ie.predict engine=ray``): the parquet it
writes holds what the single-process command writes, the callable class works in a user's own pipeline, and
what cannot work fails with one line, before anything is predicted where it can be seen then. One local Ray
instance with 2 CPUs serves the module (it takes seconds to start); skipped where Ray is not installed."""

import importlib
import json
import sys

import pytest

from ie.errors import IEError
from ie.predict import predict

from tests.conftest import SEEDS, TEST_DOC, compose_config

pytest.importorskip("ray")  # the suite skips this file where the ray extra is not installed

PARAGRAPHS = [p for p in (SEEDS / f"{TEST_DOC}.txt").read_text(encoding="utf-8").split("\n") if p.strip()]
# paragraphs of the test article, a text with \r\n (offsets count both), an empty and a blank one; the id "007"
# stays a string, and the last line of docs.jsonl has no id: ie.predict names it after the file and line
TEXTS = {f"{i:03d}": text for i, text in enumerate(PARAGRAPHS + ["Rahmon met Putin.\r\nIn Moscow.", ""], start=1)}
TEXTS[f"docs-{len(TEXTS) + 1}"] = " \n"


@pytest.fixture(scope="module")
def ray_instance():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The documents as a JSONL file and as a folder of two parquet files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("ray_corpus")
    rows = [{"id": doc_id, "text": text} for doc_id, text in TEXTS.items()]
    lines = [json.dumps(row if not row["id"].startswith("docs-") else {"text": row["text"]}) for row in rows]
    (root / "docs.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (root / "parquet").mkdir()
    half = len(rows) // 2
    for name, part in (("a", rows[:half]), ("b", rows[half:])):
        pq.write_table(pa.Table.from_pylist(part), root / "parquet" / f"{name}.parquet")
    return root


@pytest.fixture(scope="module")
def single_process(run_dir, corpus, tmp_path_factory):
    """``python -m ie.predict``'s JSONL records of the corpus, by id."""
    out = tmp_path_factory.mktemp("local") / "out.jsonl"
    predict(
        compose_config(
            "predict", [f"run={run_dir}", f"input={corpus / 'docs.jsonl'}", f"output={out}", "progress=false"]
        )
    )
    return {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}


@pytest.fixture(scope="module")
def predict_batch(run_dir):
    """The callable class, called in this process: its checks need no actor."""
    from ie.integrations.ray import PredictBatch

    return PredictBatch(run_dir)


def rounded(record: dict) -> dict:
    """A JSONL record with its scores to 5 places (another batching moves the last float bits)."""

    def scored(items):
        return [{**item, "score": round(item["score"], 5)} for item in items]

    return {**record, "entities": scored(record["entities"]), "relations": scored(record["relations"])}


def run_ray(run_dir, input_path, output, *extra):
    return predict(
        compose_config("predict", [f"run={run_dir}", f"input={input_path}", f"output={output}", "engine=ray", *extra])
    )


def read_back(folder) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(folder).to_pylist()


def test_engine_ray_writes_what_the_single_process_command_writes(
    ray_instance, run_dir, corpus, single_process, tmp_path
):
    assert sum(len(r["entities"]) for r in single_process.values()) > 0  # something to compare
    assert sorted(single_process) == sorted(TEXTS) and "007" in single_process
    out = tmp_path / "predicted"
    out.mkdir()
    (out / "stale.parquet").write_bytes(b"from an earlier run")
    with pytest.raises(IEError, match="predicted exists and is not empty .*overwrite=true"):
        run_ray(run_dir, corpus / "parquet", out)
    counts = run_ray(run_dir, corpus / "parquet", out, "overwrite=true", "concurrency=2", "ray_batch_size=4")
    rows = read_back(out)
    assert counts["documents"] == len(rows) == len(TEXTS) and not (out / "stale.parquet").exists()
    records = {row["id"]: json.loads(row["prediction"]) for row in rows}
    assert sorted(records) == sorted(single_process)
    assert [rounded(records[i]) for i in sorted(records)] == [rounded(single_process[i]) for i in sorted(records)]
    assert [p.name for p in tmp_path.iterdir()] == ["predicted"]  # no temporary folder left beside it


def test_jsonl_input_and_nested_columns_hold_the_same_predictions(
    ray_instance, run_dir, corpus, single_process, tmp_path
):
    run_ray(run_dir, corpus / "docs.jsonl", tmp_path / "nested", "ray_output=nested", "concurrency=1")
    rows = {row["id"]: row for row in read_back(tmp_path / "nested")}
    assert sorted(rows) == sorted(single_process) and set(next(iter(rows.values()))) == {"id", "entities", "relations"}
    for doc_id, expected in single_process.items():
        assert rounded({**expected, **rows[doc_id]}) == rounded(expected), doc_id


def test_the_callable_class_in_a_users_own_pipeline(ray_instance, run_dir):
    """Integer ids stay integers in the id column; the JSON line carries them as ie.predict does, as strings."""
    import ray.data

    from ie.inference.predictor import Predictor
    from ie.inference.writers import prediction_record
    from ie.integrations.ray import PredictBatch

    items = [{"id": i, "text": text, "source": "news"} for i, text in enumerate(PARAGRAPHS[:4])]
    out = (
        ray.data.from_items(items)
        .map_batches(
            PredictBatch,
            fn_constructor_kwargs={"run": str(run_dir), "keep_text": True},
            batch_size=2,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=1),
        )
        .take_all()
    )
    expected = Predictor.from_pretrained(run_dir).predict(PARAGRAPHS[:4])
    by_id = {row["id"]: row for row in out}
    assert sorted(by_id) == [0, 1, 2, 3] and set(out[0]) == {"id", "text", "prediction"}
    for i, prediction in enumerate(expected):
        assert by_id[i]["text"] == PARAGRAPHS[i]
        assert rounded(json.loads(by_id[i]["prediction"])) == rounded(prediction_record(str(i), prediction))


def test_nested_columns_keep_their_types_in_a_batch_without_entities(run_dir):
    import pyarrow as pa

    from ie.integrations.ray import ENTITY, RELATION, PredictBatch

    nested = PredictBatch(run_dir, output="nested")
    table = nested(pa.table({"id": ["a", "b"], "text": ["", "  "]}))
    assert table.schema.types[1:] == [pa.list_(ENTITY), pa.list_(RELATION)]
    assert table.column("entities").to_pylist() == table.column("relations").to_pylist() == [[], []]
    as_pandas = nested(pa.table({"id": ["a"], "text": ["Rahmon met Putin."]}).to_pandas())  # other batch formats
    as_numpy = nested({"id": ["a"], "text": ["Rahmon met Putin."]})
    assert as_pandas.to_pylist() == as_numpy.to_pylist()


@pytest.mark.parametrize(
    "columns, message",
    [
        ({"id": ["a"], "body": ["x"]}, "no column 'text' (columns: id, body)"),
        ({"text": ["x"]}, "no column 'id' (columns: text)"),
        ({"id": ["a"], "text": [3]}, "column 'text' holds int64, expected strings"),
        ({"id": [1.5], "text": ["x"]}, "column 'id' holds double, expected strings or integers"),
        ({"id": ["a", "b"], "text": ["x", None]}, "document 'b': column 'text' is null"),
        (
            {"id": ["a", None], "text": ["x", "Rahmon met Putin."]},
            "column 'id': a row has no id (None; its text: 'Rahmon",
        ),
        ({"id": ["a"], "text": ["x" * 200_001]}, "document 'a' has 200,001 characters, more than max_chars=200,000"),
    ],
)
def test_a_bad_batch_fails_with_one_line_naming_the_column_or_document(predict_batch, columns, message):
    import pyarrow as pa

    with pytest.raises(IEError) as error:
        predict_batch(pa.table(columns))
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("format=brat", "engine=ray writes one folder of parquet files: format=brat is for engine=local"),
        ("num_shards=2", "num_shards=2 is for engine=local"),
        ("order=uncertainty", "order=uncertainty is for engine=local"),
        ("engine=spark", "engine must be local or ray, got 'spark'"),
        ("ray_output=xml", "ray_output must be one of ['json', 'nested'], got 'xml'"),
        ("input=-", "engine=ray reads one file or folder (parquet or JSONL), not input=-"),
        ("input_format=text", "engine=ray reads parquet or JSONL, not input_format=text"),
        ("output=-", "engine=ray writes a folder of parquet files: give output=<folder>"),
    ],
)
def test_settings_engine_ray_cannot_honour_fail_before_anything_runs(
    ray_instance, run_dir, corpus, tmp_path, override, message
):
    settings = {
        "run": run_dir,
        "input": corpus / "docs.jsonl",
        "output": tmp_path / "out",
        "engine": "ray",
        **dict([override.split("=", 1)]),
    }
    with pytest.raises(IEError) as error:
        predict(compose_config("predict", [f"{key}={value}" for key, value in settings.items()]))
    assert message in str(error.value)
    assert not (tmp_path / "out").exists()


def test_bad_inputs_fail_before_predicting_and_leave_the_output_as_it_was(ray_instance, run_dir, tmp_path, capfd):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("Rahmon.", encoding="utf-8")
    with pytest.raises(IEError, match="notes: engine=ray reads .parquet or .jsonl files, or folders of them"):
        run_ray(run_dir, tmp_path / "notes", tmp_path / "out")
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "body.parquet")
    with pytest.raises(IEError, match=r"no column 'text' \(columns: id, body\)"):  # read from the schema alone
        run_ray(run_dir, tmp_path / "body.parquet", tmp_path / "out")
    (tmp_path / "broken.jsonl").write_text('{"id": "a", "text": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(IEError, match=r"^\S*broken.jsonl:2: not JSON \(Expecting value at column 1\)$"):
        run_ray(run_dir, tmp_path / "broken.jsonl", tmp_path / "out")  # ie.predict's rules and message
    # a null text shows only in a batch, in an actor: Ray's wrapping is taken off, the old output is kept
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["Rahmon met Putin.", None]}), tmp_path / "null.parquet")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.parquet").write_bytes(b"kept")
    capfd.readouterr()
    with pytest.raises(IEError, match="^document 'b': column 'text' is null$"):
        run_ray(run_dir, tmp_path / "null.parquet", tmp_path / "out", "overwrite=true", "concurrency=1")
    assert "Traceback" not in capfd.readouterr().err  # Ray Data's log of it is held back: the command prints one line
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "body.parquet",
        "broken.jsonl",
        "notes",
        "null.parquet",
        "out",
    ]  # no temporary folder left beside it


def test_an_actor_too_big_for_this_machines_instance_fails_rather_than_waiting(
    ray_instance, run_dir, corpus, tmp_path, monkeypatch
):
    """2 CPUs: an actor of 2 threads leaves none to read with, and on this machine no node will ever join."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(
        IEError,
        match="the Ray cluster has 2 CPUs: one actor takes 2 .threads. and reading needs one "
        "more; give fewer threads, or RAY_ADDRESS of a larger cluster",
    ):
        run_ray(run_dir, corpus / "docs.jsonl", tmp_path / "out", "threads=2")
    assert not (tmp_path / "out").exists()


def test_without_ray_the_import_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "ie.integrations.ray", raising=False)
    with pytest.raises(ImportError) as error:
        importlib.import_module("ie.integrations.ray")
    assert str(error.value) == 'ie.integrations.ray needs Ray Data, which is not installed: pip install -e ".[ray]"'
    assert isinstance(error.value, IEError)  # so the commands print it as one line
