"""The model card (README.md) every run folder gets, and its re-creation for an existing run."""

import json
import shutil

from omegaconf import OmegaConf

from ie.card import main as card_main
from ie.evaluation.card import model_card

from tests.conftest import SEEDS


def test_model_card_describes_schema_encoder_data_metrics_usage_and_limits(run_dir):
    card = (run_dir / "README.md").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    fingerprint = json.loads((run_dir / "ner" / "ie.json").read_text())["data_fingerprint"]
    for label in ("PER", "ORG", "LOC", "EVENT", "DATE", "ROLE", "AGREEMENT"):
        assert f"\n| {label} | " in card
    assert "| works_for | PER | ORG \\| LOC | no |" in card and "| met_with | PER | PER | yes |" in card
    assert "bert, 2 layers, hidden size 32, **uncased**" in card
    assert f"at training: `{fingerprint}`" in card and f"now: `{fingerprint}` (the same)" in card
    sentences, ents = metrics["sentences"], metrics["ner"]["strict"]["micro"]["support"]
    rels = metrics["re"]["gold_entities"]["strict"]["micro"]["support"]
    assert f"| test | 1 | {sentences} | {ents} | {rels} |" in card
    assert f"| NER, strict IOB2 | {metrics['ner']['strict']['micro']['precision']:.3f} |" in card
    assert f'Predictor.from_pretrained("{run_dir}")' in card and f"python -m ie.predict run={run_dir}" in card
    assert "uncased" in card.split("## Known limits")[1] and "same sentence" in card
    assert OmegaConf.to_yaml(OmegaConf.load(run_dir / "config.yaml")).strip() in card


def test_model_card_is_recreated_and_notices_changed_data(run_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("trainer", "logs"))
    (run / "README.md").unlink()
    card_main([str(run)])
    assert (run / "README.md").read_text() == model_card(run) and str(run / "README.md") in capsys.readouterr().out
    data = tmp_path / "data"
    shutil.copytree(SEEDS, data)
    ann = data / "000_cfc1bba1020dc4b0.ann"
    ann.write_text("".join(line for line in ann.read_text().splitlines(keepends=True) if not line.startswith("R")))
    cfg = OmegaConf.load(run / "config.yaml")
    cfg.data.path = str(data)
    OmegaConf.save(cfg, run / "config.yaml")
    assert "(**differs**: the data changed since training)" in model_card(run)
