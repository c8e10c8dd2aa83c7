"""A spaCy pipeline component over a trained run: ``nlp.add_pipe("ie", config={"run": "models/seeds/<time>"})``.

What it writes on each ``Doc``:

- ``doc.spans[spans_key]`` (default ``"ie"``): every entity the model found, in the Predictor's order, with
  ``attrs["scores"]`` (one score per span) and ``attrs["relations"]`` (``[head index, tail index, label,
  score]`` rows into the group). Span groups travel with ``Doc.to_bytes`` and ``DocBin``, so both survive.
- ``doc.ents``: the same entities where they do not overlap. Where they do (see :func:`annotate`), the longer
  span wins, the earlier of two as long (``spacy.util.filter_spans``). Earlier ``doc.ents`` are replaced.
- ``doc._.relations``: :class:`SpanRelation` objects (``label``, ``head``/``tail`` spans of the group,
  ``score``), read from the groups' rows; ``None`` on a Doc no ``ie`` component has seen. It is a getter and
  not a stored value because a Span inside ``doc.user_data`` makes ``Doc.to_bytes`` fail.

The run is loaded on first use, once (``component.predictor`` loads it now), not in the factory: a pipeline
saved with :meth:`IEComponent.to_disk` is rebuilt by ``spacy.load`` from a config that still names the
original run, which may be gone by then; ``from_disk`` then points the component at its own copy.

spaCy imports this module through the ``spacy_factories`` entry point whenever any pipeline is made
(``Language.__init__`` loads every such entry point), the project's own tokenizer included. So it imports only
spaCy and light modules at its top; the Predictor and the checks that need the inference stack come on use.
"""

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, List, Optional, Sequence

from ie.data.spacy_runtime import import_spacy

import_spacy()  # before spaCy's modules: without torch where it is not loaded (ie/data/spacy_runtime.py)

from spacy.language import Language  # noqa: E402
from spacy.pipeline import Pipe  # noqa: E402
from spacy.tokens import Doc, Span, SpanGroup  # noqa: E402
from spacy.util import filter_spans, minibatch  # noqa: E402

from ie import atomic  # noqa: E402
from ie.errors import ConfigError  # noqa: E402
from ie.inference.results import Prediction  # noqa: E402
from ie.precision import PRECISIONS  # noqa: E402
from ie.runs import CARD_FILE, CONFIG_FILE, EXPORT_MANIFEST, check_run_folder  # noqa: E402

if TYPE_CHECKING:
    from ie.inference.predictor import Predictor

FACTORY = "ie"
RELATIONS_EXTENSION = "relations"  # Doc._.relations
RUN_FOLDER = "run"  # the run's copy inside the component's directory of a saved pipeline
# What the Predictor reads of a run (and its model card); trainer/ (optimizer states for resume), logs and
# predictions stay behind. The ONNX export (fp32 and int8 graphs: more than the checkpoints) only where the
# backend may run it: backend=auto picks it on another machine too (int8, no torch, measured faster there).
RUN_PARTS = (CONFIG_FILE, CARD_FILE, EXPORT_MANIFEST, "ner", "re")
EXPORT_PART = "onnx"
TORCH_BACKENDS = ("lean", "transformers")
DEFAULT_CONFIG = {
    "run": None,
    "backend": "auto",
    "precision": "auto",
    "threads": None,
    "batch_size": 32,
    "spans_key": "ie",
}


@dataclass(frozen=True)
class SpanRelation:
    """A relation between two spans of ``doc.spans[spans_key]``, as ``doc._.relations`` lists them."""

    label: str
    head: Span
    tail: Span
    score: float


def relations_of(doc: Doc) -> Optional[List[SpanRelation]]:
    """``doc._.relations``: the relation rows of every span group an ``ie`` component wrote, as spans."""
    groups = [group for group in doc.spans.values() if "relations" in group.attrs]
    if not groups:
        return None
    return [
        SpanRelation(label, group[head], group[tail], score)
        for group in groups
        for head, tail, label, score in group.attrs["relations"]
    ]


def register_extensions() -> None:
    """``Doc._.relations``, once; another definition of it (someone else's) is an error, never replaced."""
    if Doc.has_extension(RELATIONS_EXTENSION):
        getter = Doc.get_extension(RELATIONS_EXTENSION)[2]
        if (
            getattr(getter, "__qualname__", None) == relations_of.__qualname__
            and getattr(getter, "__module__", None) == relations_of.__module__
        ):
            return
        raise ConfigError(
            f"Doc._.{RELATIONS_EXTENSION} is already registered by other code; the spaCy component "
            f"{FACTORY!r} writes its relations there: Doc.remove_extension({RELATIONS_EXTENSION!r}) "
            "first, or keep that pipeline apart"
        )
    Doc.set_extension(RELATIONS_EXTENSION, getter=relations_of)


def annotate(doc: Doc, prediction: Prediction, spans_key: str) -> Doc:
    """Write ``prediction`` (of ``doc.text``) onto ``doc``.

    Character offsets become token spans with ``alignment_mode="expand"``: the model splits text into its own
    words, which need not end where spaCy's tokens do (a hyphen, an apostrophe, a tokenizer of another
    language), and ``strict`` would drop such an entity while ``contract`` would cut it; ``expand`` keeps it
    and widens it to whole tokens. Widened, two entities can come to share a token; both stay in the span
    group, and ``doc.ents``, which cannot hold overlaps, takes ``filter_spans`` of them."""
    spans, scores, position = [], [], {}
    for entity in prediction.entities:
        span = doc.char_span(entity.start, entity.end, label=entity.label, alignment_mode="expand")
        if span is not None:  # None only for offsets outside the text: then the relations through it go too
            position[entity] = len(spans)
            spans.append(span)
            scores.append(entity.score)
    relations = [
        [position[r.head], position[r.tail], r.label, r.score]
        for r in prediction.relations
        if r.head in position and r.tail in position
    ]
    doc.spans[spans_key] = SpanGroup(doc, name=spans_key, spans=spans, attrs={"scores": scores, "relations": relations})
    doc.ents = filter_spans(spans)
    return doc


def require_run(run, name: str) -> None:
    if run is None or not str(run).strip():
        raise ConfigError(
            f"spaCy component {name!r}: no run folder; name one with "
            f"nlp.add_pipe({FACTORY!r}, config={{'run': 'models/<run_name>/<time>'}})"
        )


def check_run(run, name: str) -> Path:
    """The run folder (or ONNX export) ``run`` names, or a one-line error naming it and the component."""
    require_run(run, name)
    return check_run_folder(Path(run), f"spaCy component {name!r}: run={run}")


class IEComponent(Pipe):
    """Entities and relations of a trained run, on each Doc (what goes where: the module docstring)."""

    def __init__(
        self,
        name: str = FACTORY,
        run: Optional[str] = None,
        *,
        backend: str = "auto",
        precision: str = "auto",
        threads: Optional[int] = None,
        batch_size: int = 32,
        spans_key: str = "ie",
    ):
        """Settings are checked now; the run itself on first use (see the module docstring)."""
        from ie.inference.run_checks import check_backend
        from ie.inference.runners import check_threads

        require_run(run, name)
        check_backend(backend)
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        check_threads(threads)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
        if not isinstance(spans_key, str) or not spans_key:
            raise ConfigError(f"spans_key must be a non-empty string, got {spans_key!r}")
        register_extensions()
        self.name, self.run = name, str(run)
        self.backend, self.precision, self.threads = backend, precision, threads
        self.batch_size, self.spans_key = batch_size, spans_key
        self._predictor: Optional[Predictor] = None
        self._loading = threading.Lock()

    @property
    def predictor(self) -> "Predictor":
        """The run's Predictor, loaded on first use and kept."""
        with self._loading:
            if self._predictor is None:
                self._predictor = self._load()
            return self._predictor

    def _load(self) -> "Predictor":
        from ie.inference.predictor import Predictor
        from ie.models.checkpoint import CheckpointError

        path = check_run(self.run, self.name)
        predictor = Predictor.from_pretrained(
            path, precision=self.precision, backend=self.backend, threads=self.threads
        )
        if "ner" not in predictor.backends:
            raise CheckpointError(
                f"spaCy component {self.name!r}: run={self.run} has no NER checkpoint (ner/); "
                "the component finds entities first, so it needs one"
            )
        return predictor

    # --- processing ---------------------------------------------------------------------------------
    def _annotate(self, docs: Sequence[Doc]) -> List[Doc]:
        """One Predictor call for all of ``docs``."""
        predictions = self.predictor.predict([doc.text for doc in docs])
        return [annotate(doc, prediction, self.spans_key) for doc, prediction in zip(docs, predictions)]

    def __call__(self, doc: Doc) -> Doc:
        return self._annotate([doc])[0]

    def pipe(self, stream: Iterable[Doc], *, batch_size: Optional[int] = None) -> Iterator[Doc]:
        """Docs in order, ``batch_size`` of them (``nlp.pipe`` passes its own; else the config's) per Predictor
        call. A failing batch goes to the error handler (``nlp.set_error_handler``), as in spaCy's own pipes."""
        error_handler = self.get_error_handler()
        for docs in minibatch(stream, size=batch_size or self.batch_size):
            try:
                done = self._annotate(docs)
            except Exception as error:
                error_handler(self.name, self, docs, error)
                continue
            yield from done

    # --- serialisation ------------------------------------------------------------------------------
    def to_disk(self, path, *, exclude: Iterable[str] = ()) -> None:
        """Copy the run (what the Predictor reads of it: see ``RUN_PARTS``) into ``path/run``, so that the saved
        pipeline works wherever it is copied, without the run folder it was built from."""
        source, target = check_run(self.run, self.name), Path(path) / RUN_FOLDER
        if target.exists() and target.resolve() == source.resolve():
            return  # saved back where it was loaded from: the copy is already there
        parts = RUN_PARTS if self.backend in TORCH_BACKENDS else (*RUN_PARTS, EXPORT_PART)
        with atomic.replacing(target) as tmp:
            tmp.mkdir()
            for part in parts:
                if (source / part).is_dir():
                    shutil.copytree(source / part, tmp / part)
                elif (source / part).is_file():
                    shutil.copy2(source / part, tmp / part)

    def from_disk(self, path, *, exclude: Iterable[str] = ()) -> "IEComponent":
        """Use the run copied into ``path`` by :meth:`to_disk` (loaded on first use)."""
        run = Path(path) / RUN_FOLDER
        check_run(run, self.name)
        with self._loading:
            self.run, self._predictor = str(run), None
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        raise NotImplementedError(
            f"spaCy component {self.name!r} holds a run folder of checkpoints, not bytes: "
            "save the pipeline with nlp.to_disk(path) and load it with spacy.load(path)"
        )

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "IEComponent":
        raise NotImplementedError(f"spaCy component {self.name!r} loads from a directory: use spacy.load(path)")

    def __reduce__(self):
        """Pickled (``nlp.pipe(n_process=...)`` where processes are spawned) as its settings; the copy loads
        the run itself when first used."""
        return (
            _rebuild,
            (self.name, self.run, self.backend, self.precision, self.threads, self.batch_size, self.spans_key),
        )


def _rebuild(name, run, backend, precision, threads, batch_size, spans_key) -> IEComponent:
    return IEComponent(
        name, run, backend=backend, precision=precision, threads=threads, batch_size=batch_size, spans_key=spans_key
    )


@Language.factory(
    FACTORY, default_config=DEFAULT_CONFIG, assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"]
)
def make_ie_component(
    nlp: Language,
    name: str,
    run: Optional[str],
    backend: str,
    precision: str,
    threads: Optional[int],
    batch_size: int,
    spans_key: str,
) -> IEComponent:
    """The ``"ie"`` factory. ``run``: the run folder (or its ONNX export); ``backend``, ``precision``,
    ``threads``: as :meth:`ie.inference.predictor.Predictor.from_pretrained` takes them; ``batch_size``: docs per
    Predictor call in ``pipe`` when spaCy passes none; ``spans_key``: the ``doc.spans`` group written."""
    return IEComponent(
        name, run, backend=backend, precision=precision, threads=threads, batch_size=batch_size, spans_key=spans_key
    )
