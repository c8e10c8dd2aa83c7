"""A 5,000-word article with its entities at the very end: windows in training, in the data report
and in the Predictor reach the last word; a config that cannot hold the data has its losses counted."""

import json
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoTokenizer

from ie.config import _packaged_encoder
from ie.inference.predictor import Predictor
from ie.training.data_report import data_report
from ie.training.features import ner_features, re_features
from ie.training.prepare import load_data, prepare_data
from ie.training.train import train

from tests.conftest import SEEDS, compose_config

FILLER = " ".join(["cooperation"] * 5000)
LONG = FILLER + " Denis Manturov of Rosatom"  # one 5,004-word "sentence": no full stop anywhere
ANN = (
    f"T1\tPER {len(FILLER) + 1} {len(FILLER) + 15}\tDenis Manturov\n"
    f"T2\tORG {len(LONG) - 7} {len(LONG)}\tRosatom\nR1\tworks_for Arg1:T1 Arg2:T2\n"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    for name, text, ann in [("long", LONG, ANN), ("short", "Lipetsk hosted the forum.", "T1\tLOC 0 7\tLipetsk\n")]:
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        (folder / f"{name}.ann").write_text(ann, encoding="utf-8")
    return folder


def config(corpus, *overrides):
    return compose_config(
        "train",
        [
            "debug=fast",
            "trainer.disable_tqdm=true",
            f"data.path={corpus}",
            f"data.schema={SEEDS / 'schema.json'}",
            "data.splits.test=[short]",
            "data.mention_replacement=0",
            *overrides,
        ],
    )  # counts of the file itself


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(_packaged_encoder())


def test_training_features_keep_the_last_entity_and_relation(corpus, tokenizer):
    data = load_data(config(corpus, "paths.output_dir=/tmp/unused"))
    assert len(data.ner["train"][0]["words"]) == 5004
    features = ner_features(data.ner["train"], tokenizer, 64, 16)
    assert len(features) > 80 and all(len(ids) <= 64 for ids in features["input_ids"])
    tags = data.schema.bio_tags
    last = [tags[label] for label in features[-1]["labels"] if label != -100]
    assert last[-4:] == ["B-PER", "I-PER", "O", "B-ORG"]
    pairs = re_features(data.ner["train"], tokenizer, 64, data.schema, "train")
    works_for = data.schema.relation_labels.index("works_for")
    assert pairs["labels"] == [[works_for]]


def test_nothing_is_lost_unless_the_config_forces_it(corpus, tokenizer, tmp_path, caplog):
    data = load_data(config(corpus, "paths.output_dir=/tmp/unused"))
    report = data_report(data, tokenizer, ["ner", "re"], 64, 64)
    assert report["splits"]["train"]["words"] == 5004
    assert report["splits"]["train"]["lost"] == {
        "ner": {"words_cut": 0, "entities_split": 0},
        "re": {"candidates": 0, "relations": 0},
    }
    # a 4-subword NER window holds 2 subwords of text; an 8-subword RE window 2 besides its markers
    forced = config(corpus, f"paths.output_dir={tmp_path}", "trainer.ner.max_length=4", "trainer.re.max_length=8")
    prepare_data(forced, tmp_path)
    lost = json.loads((tmp_path / "data_report.json").read_text())["splits"]["train"]["lost"]
    assert lost["ner"]["words_cut"] >= 1 and lost["ner"]["entities_split"] >= 1  # "manturov": man ##tur ##ov
    assert lost["re"] == {"candidates": 1, "relations": 1}
    assert "the configured windows lose data" in caplog.text
    assert "lost to the RE window: 1 candidate pair(s), 1 gold relation(s)" in caplog.text


class TaggingOracle(torch.nn.Module):
    """Stands in for the NER model: tags the first subword of chosen words, everything else O."""

    def __init__(self, labels, tag_of_token):
        super().__init__()
        self.config = SimpleNamespace(id2label=dict(enumerate(labels)), num_labels=len(labels))
        self.tag_of_token, self.labels, self.rows = tag_of_token, labels, 0

    def forward(self, input_ids, attention_mask):
        logits = torch.zeros(*input_ids.shape, len(self.labels))
        logits[..., 0] = 1.0
        for token, tag in self.tag_of_token.items():
            logits[input_ids == token] = torch.nn.functional.one_hot(torch.tensor(tag), len(self.labels)) * 2.0
        self.rows += input_ids.shape[0]
        return SimpleNamespace(logits=logits)


def test_predictor_finds_the_entities_at_the_very_end(corpus, tokenizer, schema):
    first = lambda word: tokenizer(word, add_special_tokens=False)["input_ids"][0]  # noqa: E731
    tags = schema.bio_tags
    oracle = TaggingOracle(
        tags,
        {
            first("Denis"): tags.index("B-PER"),
            first("Manturov"): tags.index("I-PER"),
            first("Rosatom"): tags.index("B-ORG"),
        },
    )
    predictor = Predictor(schema, ner_model=oracle, ner_tokenizer=tokenizer, ner_max_length=64, ner_stride=16)
    result = predictor(LONG)
    assert oracle.rows > 80  # read in windows, none of them longer than 64 subwords
    assert [(e.label, e.start, e.end, e.text) for e in result.entities] == [
        ("PER", len(FILLER) + 1, len(FILLER) + 15, "Denis Manturov"),
        ("ORG", len(LONG) - 7, len(LONG), "Rosatom"),
    ]


def test_a_run_on_the_long_article_trains_in_windows_and_reports_no_loss(corpus, tmp_path):
    results = train(config(corpus, f"paths.output_dir={tmp_path}", "task=ner"))
    report = json.loads((tmp_path / "data_report.json").read_text())
    assert report["splits"]["train"]["lost"] == {"ner": {"words_cut": 0, "entities_split": 0}}
    assert results["ner"]["strict"]["micro"]["support"] == 1
    history = json.loads((tmp_path / "trainer" / "ner" / "log_history.json").read_text())
    assert history[-1]["step"] > 10  # about 90 windows of 64 subwords at batch size 8
    result = Predictor.from_pretrained(tmp_path)(LONG)
    assert all(LONG[e.start : e.end] == e.text for e in result.entities)
