"""Annotation file formats, one module each: brat (the project's own), Label Studio, doccano, spaCy
``DocBin`` and CoNLL BIO, all read into and written from :class:`~ie.data.documents.Document`; plus the
CoNLL04 benchmark's JSON, read only.

:data:`FORMATS` names the ones that convert both ways (``python -m ie.convert``, ``ie.predict format=``).
Each module has ``read_documents(path)`` (an :class:`~ie.data.problems.AnnotationError` naming the file
and the line, task or item for what cannot be read), ``write_documents(docs, path, segmenter,
model_version)`` (complete or not at all) and ``RELATIONS`` (whether the format can hold relations).
A new format is one module and one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ie.data.formats import brat, conll_bio, doccano, label_studio, spacy_docbin
from ie.errors import ConfigError


@dataclass(frozen=True)
class Format:
    name: str
    module: ModuleType
    folder: bool = False  # written as a folder of files (brat), else as one file
    suffix: str = ""

    @property
    def relations(self) -> bool:
        return self.module.RELATIONS

    def read(self, path):
        return self.module.read_documents(path)

    def write(self, docs, path, segmenter: str, model_version: str | None = None) -> None:
        self.module.write_documents(docs, path, segmenter=segmenter, model_version=model_version)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("brat", brat, folder=True),
        Format("label_studio", label_studio, suffix=".json"),
        Format("doccano", doccano, suffix=".jsonl"),
        Format("spacy", spacy_docbin, suffix=".spacy"),
        Format("conll", conll_bio, suffix=".conll"),
    )
}


def get_format(name: str, field: str = "format") -> Format:
    if name not in FORMATS:
        raise ConfigError(f"{field}: unknown format '{name}' (known: {', '.join(FORMATS)})")
    return FORMATS[name]
