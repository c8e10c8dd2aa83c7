"""Batch prediction on Ray Data: one Predictor per actor over a Dataset's text column, and what
``python -m ie.predict engine=ray`` runs (parquet or JSONL in, a folder of parquet out).

    ds = ray.data.read_parquet("articles/")
    out = predict_dataset(ds, "models/seeds/<time>", concurrency=4)   # or ds.map_batches(PredictBatch, ...)
    out.write_parquet("predictions/")

Batches are pyarrow tables (``batch_format="pyarrow"``): the text column arrives without a copy from
parquet, its type says at once whether it holds strings, and the output is built against an explicit
schema, so a batch without a single entity still has the same column types as the others and the
parquet files of one run agree. Other batch formats are accepted and converted.

``output="json"`` puts each document's JSONL line of ``python -m ie.predict`` (``{"id", "text",
"entities", "relations"}``, :func:`ie.inference.writers.prediction_record`) in a ``prediction`` string
column; ``output="nested"`` gives ``entities`` and ``relations`` as lists of structs, a relation's
``head`` and ``tail`` being indices into ``entities`` as in the JSONL.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

from ie.errors import IEError


class RayMissing(IEError, ModuleNotFoundError):
    """Ray Data is an extra of the project; commands report its absence as one line."""


try:
    import pyarrow as pa
    import ray
    import ray.data
except ModuleNotFoundError:
    raise RayMissing(
        'ie.integrations.ray needs Ray Data, which is not installed: pip install -e ".[ray]"', name="ray"
    ) from None

from ie import atomic  # noqa: E402  (after the one-line message for a missing Ray)
from ie.inference.inputs import InputError, check_text, parse_jsonl  # noqa: E402
from ie.inference.writers import prediction_record  # noqa: E402

OUTPUTS = ("json", "nested")
PREDICTION_COLUMN = "prediction"  # output="json"
ENTITY = pa.struct(
    [("label", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()), ("score", pa.float64())]
)
RELATION = pa.struct([("label", pa.string()), ("head", pa.int64()), ("tail", pa.int64()), ("score", pa.float64())])
__all__ = ["PredictBatch", "predict_dataset", "RayMissing"]
log = logging.getLogger(__name__)


def _is_string(dtype) -> bool:
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(dtype))
    )


def check_columns(names, types, text_column: str, id_column: str) -> None:
    """The text column holds strings and the id column strings or integers; ``types`` may hold non-Arrow
    types (a pandas block's), which the batches then check."""
    present = dict(zip(names, types))
    for column in (text_column, id_column):
        if column not in present:
            raise InputError(f"no column '{column}' (columns: {', '.join(map(str, names)) or 'none'})")
    text_type, id_type = present[text_column], present[id_column]
    if isinstance(text_type, pa.DataType) and not _is_string(text_type):
        raise InputError(f"column '{text_column}' holds {text_type}, expected strings")
    if isinstance(id_type, pa.DataType) and not (_is_string(id_type) or pa.types.is_integer(id_type)):
        raise InputError(f"column '{id_column}' holds {id_type}, expected strings or integers")


def _as_table(batch) -> pa.Table:
    """A pyarrow table of any batch format Ray hands over (pyarrow, pandas, a dict of NumPy arrays)."""
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, dict):
        return pa.table({name: pa.array(list(values)) for name, values in batch.items()})
    return pa.Table.from_pandas(batch, preserve_index=False)


class PredictBatch:
    """A callable class for ``Dataset.map_batches``: the Predictor of ``run`` is loaded once per actor, in
    ``__init__``, and each call predicts a batch's ``text_column``. Returns ``id_column`` as it came (plus
    ``text_column`` with ``keep_text=True``) and the predictions as ``output`` says (module docstring).
    Ids are required: Ray does not keep row order, so they are what joins a prediction to its document."""

    def __init__(
        self,
        run: str | Path,
        text_column: str = "text",
        id_column: str = "id",
        output: str = "json",
        keep_text: bool = False,
        device: str = "cpu",
        precision: str = "auto",
        backend: str = "auto",
        decoding: str | None = None,
        threads: int | None = 1,
        batch_size: int = 32,
    ):
        from ie.inference.predictor import Predictor

        if output not in OUTPUTS:
            raise InputError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
        self.text_column, self.id_column, self.output, self.keep_text = text_column, id_column, output, keep_text
        self.batch_size = batch_size
        self.predictor = Predictor.from_pretrained(
            run, device=device, precision=precision, decoding=decoding, backend=backend, threads=threads
        )

    def __call__(self, batch) -> pa.Table:
        table = _as_table(batch)
        check_columns(table.column_names, table.schema.types, self.text_column, self.id_column)
        ids, texts = self._ids_and_texts(table)
        predictions = self.predictor.predict(texts, batch_size=self.batch_size)
        columns = {self.id_column: table.column(self.id_column)}
        if self.keep_text:
            columns[self.text_column] = table.column(self.text_column)
        if self.output == "json":
            lines = [json.dumps(prediction_record(i, p), ensure_ascii=False) for i, p in zip(ids, predictions)]
            columns[PREDICTION_COLUMN] = pa.array(lines, pa.string())
        else:
            records = [prediction_record(i, p) for i, p in zip(ids, predictions)]
            columns["entities"] = pa.array([r["entities"] for r in records], pa.list_(ENTITY))
            columns["relations"] = pa.array([r["relations"] for r in records], pa.list_(RELATION))
        return pa.table(columns)

    def _ids_and_texts(self, table: pa.Table) -> tuple[list[str], list[str]]:
        """Ids as strings (as ``ie.predict`` writes them) and texts, each checked as the Predictor would."""
        ids, texts = table.column(self.id_column).to_pylist(), table.column(self.text_column).to_pylist()
        for doc_id, text in zip(ids, texts):
            if doc_id is None or doc_id == "" or isinstance(doc_id, bool):
                shown = text[:40] if isinstance(text, str) else text
                raise InputError(f"column '{self.id_column}': a row has no id ({doc_id!r}; its text: {shown!r})")
            if text is None:
                raise InputError(f"document '{doc_id}': column '{self.text_column}' is null")
            check_text(text, f"document '{doc_id}'", self.predictor.max_chars)
        return [str(i) for i in ids], texts


def actor_cpus(threads: int | None) -> int:
    """Cores each actor reserves and its Predictor uses: ``threads``, one when unset (Ray's own default)."""
    return 1 if threads is None else threads


def default_concurrency(threads: int | None) -> int:
    """As many actors as the cluster's CPUs hold at ``actor_cpus(threads)`` each."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)) // actor_cpus(threads))


def actor_pool(concurrency: int | None, threads: int | None) -> ray.data.ActorPoolStrategy:
    """Between one and ``concurrency`` actors. Not a fixed pool: Ray Data starts a fixed pool's actors before
    any read task, so actors on every CPU leave none to read with and the run hangs (ray-project/ray#44687);
    an autoscaling pool grows only as far as reading and writing leave room."""
    if not ray.is_initialized():  # as a dataset's first run would: RAY_ADDRESS's cluster, else this machine
        ray.init()
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < actor_cpus(threads) + 1:
        short = (
            f"the Ray cluster has {cpus:g} CPUs: one actor takes {actor_cpus(threads)} (threads) and reading "
            "needs one more"
        )
        if not os.environ.get("RAY_ADDRESS"):  # this machine's instance: no node will ever join, Ray Data would wait
            raise InputError(f"{short}; give fewer threads, or RAY_ADDRESS of a larger cluster")
        log.warning("%s, so Ray Data waits for a node to join (give fewer threads if none will)", short)
    most = default_concurrency(threads) if concurrency is None else concurrency
    return ray.data.ActorPoolStrategy(min_size=1, max_size=most)


def predict_dataset(
    ds: ray.data.Dataset,
    run: str | Path,
    concurrency: int | None = None,
    batch_rows: int = 64,
    threads: int | None = None,
    device: str = "cpu",
    **predict_batch,
) -> ray.data.Dataset:
    """``ds`` with its predictions (lazy, as Ray datasets are): its columns checked now, then ``PredictBatch``
    on up to ``concurrency`` actors (None: :func:`default_concurrency`), ``batch_rows`` documents per call, one
    GPU each on ``device="cuda"``. ``predict_batch``: the other keyword arguments of :class:`PredictBatch`."""
    if predict_batch.get("output", "json") not in OUTPUTS:
        raise InputError(f"output must be one of {list(OUTPUTS)}, got {predict_batch['output']!r}")
    if batch_rows < 1:
        raise InputError(f"the rows per batch must be at least 1, got {batch_rows}")
    for name, value in (("concurrency", concurrency), ("threads", threads)):
        if value is not None and value < 1:
            raise InputError(f"{name} must be at least 1, got {value}")
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no rows or no schema")
    check_columns(
        schema.names, schema.types, predict_batch.get("text_column", "text"), predict_batch.get("id_column", "id")
    )
    return ds.map_batches(
        PredictBatch,
        batch_size=batch_rows,
        batch_format="pyarrow",
        compute=actor_pool(concurrency, threads),
        num_cpus=actor_cpus(threads),
        num_gpus=1 if device.startswith("cuda") else 0,
        fn_constructor_kwargs={
            "run": str(Path(run).absolute()),
            "threads": actor_cpus(threads),
            "device": device,
            **predict_batch,
        },
    )


# --- python -m ie.predict engine=ray -------------------------------------------------------------------------
def input_reader(spec, input_format: str = "auto") -> tuple[str, Path]:
    """``("parquet" | "json", path)`` for one file or folder of ``.parquet`` or ``.jsonl`` files."""
    if not isinstance(spec, str) or spec == "-":
        raise InputError(f"engine=ray reads one file or folder (parquet or JSONL), not input={spec}")
    if input_format == "text":
        raise InputError(
            "engine=ray reads parquet or JSONL, not input_format=text: put the texts in a .jsonl "
            'file of {"id": ..., "text": ...} lines'
        )
    path = Path(spec)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    suffixes = {p.suffix for p in files if not p.name.startswith((".", "_"))}
    if input_format == "jsonl" or (".parquet" not in suffixes and suffixes & {".jsonl", ".json"}):
        return "json", path
    if ".parquet" in suffixes:
        return "parquet", path
    raise InputError(f"{path}: engine=ray reads .parquet or .jsonl files, or folders of them")


def read_dataset(kind: str, path: Path) -> ray.data.Dataset:
    """The documents as a Dataset of ``id`` and ``text``. JSONL files are read whole and parsed by
    ``ie.predict``'s own rules (:func:`ie.inference.inputs.parse_jsonl`): the same ids ("007" stays a string, an
    id-less line gets ``<file stem>-<line>``) and the same errors, naming file and line. ``read_json`` does not
    keep to them: with ``lines=True`` pandas makes the id "007" the number 7, and pyarrow's reader makes a text
    that looks like a date a timestamp and reports a line it cannot read as "Extra data"."""
    if kind == "parquet":
        return ray.data.read_parquet(str(path.absolute()))
    files = ray.data.read_binary_files(
        str(path.absolute()), include_paths=True, file_extensions=None if path.is_file() else ["jsonl", "json"]
    )
    return files.map_batches(parse_json_lines, batch_format="pyarrow")


def parse_json_lines(files: pa.Table) -> pa.Table:
    """The documents of a batch of JSONL files (``bytes`` and ``path`` columns)."""
    docs = []
    for content, path in zip(files.column("bytes").to_pylist(), files.column("path").to_pylist()):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not valid UTF-8 (byte {err.start}: {err.reason})") from None
        docs += parse_jsonl(text, path)
    return pa.table(
        {"id": pa.array([d.id for d in docs], pa.string()), "text": pa.array([d.text for d in docs], pa.string())}
    )


def check_output_folder(output: str, overwrite: bool, input_path: Path) -> Path:
    """Where the parquet files go: a new or empty folder, or any folder with ``overwrite=true``."""
    if output == "-":
        raise InputError("engine=ray writes a folder of parquet files: give output=<folder>")
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} is a file: engine=ray writes a folder of parquet files")
    if path.resolve() == input_path.resolve() or path.resolve() in input_path.resolve().parents:
        raise InputError(f"output={path} holds the input {input_path}: write the predictions elsewhere")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise InputError(f"{path} exists and is not empty (it is never replaced without overwrite=true)")
    return path


def original_error(error: BaseException) -> BaseException:
    """The expected error an actor raised, out of Ray's wrappers (``RayTaskError(InputError)`` and the like,
    whose message carries the actor's traceback), else ``error`` itself. Its message is one line again: Ray
    Data appends its retry advice on lines of their own."""
    seen = error
    while seen is not None:
        if isinstance(seen, IEError) and not isinstance(seen, ray.exceptions.RayError):
            if seen.args and isinstance(seen.args[0], str):
                seen.args = (seen.args[0].split("\n", 1)[0], *seen.args[1:])
            return seen
        seen = getattr(seen, "cause", None) or seen.__cause__
    return error


@contextmanager
def console_errors_held_back():
    """What Ray Data logs at ERROR on the console (a failed task's traceback, logged before the driver sees the
    error) is held back, and let out unless the block ends with an expected error: the command prints that
    one as one line."""
    consoles = [
        h
        for h in logging.getLogger("ray.data").handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    held: list[logging.LogRecord] = []

    def hold_errors(record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            held.append(record)
            return False
        return True

    for console in consoles:
        console.addFilter(hold_errors)
    expected = False
    try:
        yield
    except IEError:
        expected = True
        raise
    finally:
        for console in consoles:
            console.removeFilter(hold_errors)
            for record in [] if expected else held:
                console.handle(record)


@contextmanager
def expected_errors_as_raised():
    """An expected error raised in a task or an actor of the datasets made inside comes out as itself
    (:func:`original_error`), Ray Data's log of it held back. ``raise_original_map_exception`` keeps it as the
    cause of Ray's error; without it only a ``UserCodeException`` arrives, the cause lost on the way."""
    context = ray.data.DataContext.get_current()
    before = getattr(context, "raise_original_map_exception", False)
    context.raise_original_map_exception = True
    try:
        with console_errors_held_back():
            try:
                yield
            except Exception as error:
                cause = original_error(error)
                if cause is error:
                    raise
                raise cause from None
    finally:
        context.raise_original_map_exception = before


def write_predictions(predicted: ray.data.Dataset, output: Path) -> int:
    """Write the parquet files into a hidden folder beside ``output`` and rename it into place when every
    document is written (:func:`ie.atomic.replacing`): a failed run leaves ``output`` as it was. Returns rows."""
    import pyarrow.parquet as pq

    with atomic.replacing(output) as partial:
        predicted.write_parquet(str(partial.absolute()))
        if not partial.exists():  # no input rows: Ray writes no file
            partial.mkdir()
    return sum(pq.ParquetFile(f).metadata.num_rows for f in output.glob("*.parquet"))


def connect() -> bool:
    """Join the Ray instance of ``RAY_ADDRESS`` (which ``ray.init`` reads itself), else a running local one,
    else start one on this machine; True when this call started or joined it (and should shut it down)."""
    if ray.is_initialized():
        return False
    ray.init()
    return True


def predict_with_ray(cfg, run_dir: Path) -> dict:
    """``python -m ie.predict engine=ray``: input and output checked before Ray starts, the columns before
    anything is predicted; returns the counts."""
    from omegaconf import OmegaConf

    if cfg.ray_output not in OUTPUTS:
        raise InputError(f"ray_output must be one of {list(OUTPUTS)}, got {cfg.ray_output!r}")
    spec = OmegaConf.to_container(cfg.input) if OmegaConf.is_config(cfg.input) else cfg.input
    kind, path = input_reader(spec, cfg.input_format)
    output = check_output_folder(cfg.output, cfg.overwrite, path)
    started = connect()
    try:
        with expected_errors_as_raised():
            ds = read_dataset(kind, path)
            predicted = predict_dataset(
                ds,
                run_dir,
                concurrency=cfg.concurrency,
                batch_rows=cfg.ray_batch_size,
                threads=cfg.threads,
                device=cfg.device,
                output=cfg.ray_output,
                precision=cfg.precision,
                backend=cfg.backend,
                decoding=cfg.decoding,
                batch_size=cfg.batch_size,
            )
            documents = write_predictions(predicted, output)
    finally:
        if started:
            ray.shutdown()
    return {"documents": documents, "output": str(output)}
