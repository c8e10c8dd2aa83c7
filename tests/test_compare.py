import json
import random

import numpy as np
import pytest
import yaml

from ie.data.bio import spans_to_tags
from ie.evaluation.bootstrap import paired_bootstrap
from ie.evaluation.compare import compare_runs, group_runs, load_run, write_comparison

from tests.conftest import SEEDS

GOLD = [[(0, 2, "PER"), (3, 4, "LOC")], [(1, 2, "ORG")], [(0, 1, "DATE"), (2, 4, "EVENT")], [(0, 1, "LOC")]] * 5


def fake_run(root, name, lr, seed, hit_rate, fold=None, folds=0, sentences=None, inner=None):
    """A run folder as training leaves it (config.yaml, ner/, predictions), without a model."""
    sentences = range(len(GOLD)) if sentences is None else sentences
    run = root / name
    (run / "ner").mkdir(parents=True)
    config = {
        "seed": seed,
        "run_name": "fake",
        "data": {"schema": str(SEEDS / "schema.json"), "folds": folds, "fold": fold or 0, "inner_fold": inner},
        "trainer": {"ner": {"learning_rate": lr}},
        "paths": {"output_dir": str(run)},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    rng = random.Random(f"{name}")
    lines = [json.dumps({"header": {"run": str(run), "split": "test"}})]
    for i in sentences:
        pred = [e for e in GOLD[i] if rng.random() < hit_rate]
        lines.append(
            json.dumps(
                {
                    "doc_id": f"doc{i // 4}",
                    "sent_index": i % 4,
                    "words": ["w"] * 5,
                    "gold_entities": GOLD[i],
                    "gold_relations": [],
                    "pred_tags": spans_to_tags(5, pred),
                    "pred_entities": [[*e, 0.9] for e in pred],
                }
            )
        )
    (run / "predictions_test.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_runs_that_differ_only_in_seed_form_one_group(tmp_path):
    runs = [load_run(fake_run(tmp_path, f"a{s}", 1e-4, s, 0.6), "test") for s in (1, 2, 3)]
    runs += [load_run(fake_run(tmp_path, f"b{s}", 5e-4, s, 0.9), "test") for s in (1, 2, 3)]
    groups = group_runs(runs)
    assert [g.name for g in groups] == ["trainer.ner.learning_rate=0.0001", "trainer.ner.learning_rate=0.0005"]
    assert [len(g.runs) for g in groups] == [3, 3]


def test_comparison_reports_mean_std_differences_and_bootstrap(tmp_path):
    for s in (1, 2, 3):
        fake_run(tmp_path / "sweep", f"a{s}", 1e-4, s, 0.5)
        fake_run(tmp_path / "sweep", f"b{s}", 5e-4, s, 0.95)
    result = compare_runs([tmp_path / "sweep"], samples=300)
    a, b = result["groups"].values()
    assert result["baseline"] == "trainer.ner.learning_rate=0.0001"
    f1 = a["metrics"]["ner.strict"]["f1"]
    assert f1["n"] == 3 and f1["mean"] == pytest.approx(np.mean(f1["values"]))
    assert f1["std"] == pytest.approx(np.std(f1["values"], ddof=1))
    vs = b["against_baseline"]["ner.strict"]
    assert vs["f1"] == pytest.approx(b["metrics"]["ner.strict"]["f1"]["mean"] - f1["mean"])
    assert vs["bootstrap"]["ci_low"] <= vs["f1"] <= vs["bootstrap"]["ci_high"]
    assert vs["bootstrap"]["excludes_zero"]  # 95% vs 50% of entities found
    written = write_comparison(result, tmp_path / "out")
    md = written["markdown"].read_text()
    assert "| trainer.ner.learning_rate=0.0005 | 3 |" in md and "95% CI" in md
    assert (tmp_path / "out" / "f1_per_type_ner_strict.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads(written["json"].read_text())["groups"].keys() == result["groups"].keys()


def test_folds_of_one_seed_are_pooled(tmp_path):
    for fold in range(2):
        fake_run(
            tmp_path / "cv", f"f{fold}", 1e-4, 1, 0.7, fold=fold, folds=2, sentences=range(fold * 10, fold * 10 + 10)
        )
    result = compare_runs([tmp_path / "cv"], samples=100)
    (group,) = result["groups"].values()
    metric = group["metrics"]["ner.strict"]
    assert group["folds"] == [0, 1] and metric["f1"]["n"] == 1 and metric["per_fold_f1"]["n"] == 2
    assert metric["support"] == sum(len(g) for g in GOLD)  # pooled: every test sentence once


def test_nested_folds_get_a_bootstrap_stratified_by_outer_fold(tmp_path):
    """Nested CV: each outer fold's inner folds test other sentences (an article is an inner test article of
    several outer folds), so sentences are resampled within each outer fold, not across."""
    tested = {0: (range(0, 5), range(5, 10)), 1: (range(5, 10), range(10, 15))}  # outer fold -> its inner folds
    for name, lr, hit in (("a", 1e-4, 0.5), ("b", 5e-4, 0.95)):
        for outer, inner_sentences in tested.items():
            for inner, sentences in enumerate(inner_sentences):
                fake_run(
                    tmp_path / "nested",
                    f"{name}{outer}{inner}",
                    lr,
                    1,
                    hit,
                    fold=outer,
                    folds=3,
                    sentences=sentences,
                    inner=inner,
                )
    result = compare_runs([tmp_path / "nested"], samples=300)
    a, b = result["groups"].values()
    assert a["seeds"] == [(1, 0), (1, 1)] and a["metrics"]["ner.strict"]["f1"]["n"] == 2
    boot = b["against_baseline"]["ner.strict"]["bootstrap"]
    assert boot["stratified_by"] == "replicate" and boot["excludes_zero"]
    assert boot["difference"] == pytest.approx(b["against_baseline"]["ner.strict"]["f1"])


def test_bootstrap_is_seeded_and_zero_for_identical_systems():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(1, 50, 3))
    same = paired_bootstrap(a, a, samples=200, seed=1)
    assert same["difference"] == 0 and same["ci_low"] == same["ci_high"] == 0 and not same["excludes_zero"]
    b = rng.integers(0, 4, size=(1, 50, 3))
    assert paired_bootstrap(a, b, samples=200, seed=3) == paired_bootstrap(a, b, samples=200, seed=3)
    with pytest.raises(ValueError, match="same test sentences"):
        paired_bootstrap(a, b[:, :10], samples=10)


def test_bootstrap_interval_covers_a_known_difference_about_95_percent_of_the_time():
    """Test sets drawn from a finite population whose true F1 difference is known exactly."""
    rng = np.random.default_rng(42)
    size = 20_000
    gold = rng.poisson(2.0, size)
    found_a, found_b = rng.binomial(gold, 0.6), rng.binomial(gold, 0.7)
    pop_a = np.stack([found_a, rng.poisson(0.5, size), gold - found_a], axis=1)
    pop_b = np.stack([found_b, rng.poisson(0.4, size), gold - found_b], axis=1)
    f1 = lambda c: 2 * c[0] / (2 * c[0] + c[1] + c[2])  # noqa: E731
    true_diff = f1(pop_b.sum(0)) - f1(pop_a.sum(0))
    trials, covered = 200, 0
    for t in range(trials):
        idx = rng.integers(0, size, 200)
        ci = paired_bootstrap(pop_a[idx][None], pop_b[idx][None], samples=500, seed=t)
        covered += ci["ci_low"] <= true_diff <= ci["ci_high"]
    assert 0.90 <= covered / trials <= 0.99


def test_the_same_recipe_from_two_checkouts_is_one_configuration():
    from ie.evaluation.compare import portable

    a = {"paths.root": "/a/ie", "data.path": "/a/ie/seeds", "model.name_or_path": "/a/ie/.venv/lib/site-packages/m"}
    b = {"paths.root": "/b/x", "data.path": "/b/x/seeds", "model.name_or_path": "/opt/py/lib/site-packages/m"}
    assert (
        {k: v for k, v in portable(a).items() if k != "paths.root"}
        == {k: v for k, v in portable(b).items() if k != "paths.root"}
        == {"data.path": "<root>/seeds", "model.name_or_path": "site-packages/m"}
    )


def test_the_same_recipe_on_conll04_read_from_anywhere_is_one_configuration():
    from ie.evaluation.compare import portable

    old = {"paths.root": "/a/ie", "data.path": "/a/ie/data/conll04", "data.schema": "/a/ie/data/conll04/schema.json"}
    new = {
        "paths.root": "/b/ie",
        "paths.conll04": "/data/conll04",
        "data.path": "/data/conll04",
        "data.schema": "/b/ie/data/conll04/schema.json",
    }
    for config in (old, new):
        assert {k: v for k, v in portable(config).items() if not k.startswith("paths.")} == {
            "data.path": "<conll04>",
            "data.schema": "<root>/data/conll04/schema.json",
        }


def test_group_names_write_a_section_that_is_off_in_some_groups_once():
    """pretrain=None against a pre-trained group names one key, not the hundred inside the section."""
    from ie.evaluation.compare import group_label

    off = {"pretrain": "None", "trainer.re.epochs": "40"}
    on_a = {"pretrain.data.name": "conll04", "pretrain.seed": "42", "trainer.re.epochs": "40"}
    on_b = {"pretrain.data.name": "conll04", "pretrain.seed": "7", "trainer.re.epochs": "20"}
    configs = [off, on_a, on_b]
    differing = sorted({k for c in configs for k in c if any(c.get(k) != o.get(k) for o in configs)})
    assert group_label(off, differing, configs) == "pretrain=None, trainer.re.epochs=40"
    assert group_label(on_a, differing, configs) == "pretrain=conll04, pretrain.seed=42, trainer.re.epochs=40"
    assert group_label(on_b, differing, configs) == "pretrain=conll04, pretrain.seed=7, trainer.re.epochs=20"


def test_group_by_folder_keeps_a_recipe_whose_settings_differ_per_fold_together(tmp_path):
    for s in (1, 2):  # nested CV chose another learning rate in each outer fold
        for fold, lr in ((0, 1e-4), (1, 5e-4)):
            fake_run(
                tmp_path / "tuned",
                f"s{s}f{fold}",
                lr,
                s,
                0.9,
                fold=fold,
                folds=2,
                sentences=range(fold * 10, fold * 10 + 10),
            )
            fake_run(
                tmp_path / "fixed",
                f"s{s}f{fold}",
                2e-4,
                s,
                0.5,
                fold=fold,
                folds=2,
                sentences=range(fold * 10, fold * 10 + 10),
            )
    paths = [tmp_path / "fixed", tmp_path / "tuned"]
    assert len(compare_runs(paths, samples=50)["groups"]) == 3  # by config the tuned recipe falls apart
    result = compare_runs(paths, samples=50, group_by="folder")
    assert result["baseline"] == "fixed" and list(result["groups"]) == ["fixed", "tuned"]
    tuned = result["groups"]["tuned"]
    assert len(tuned["runs"]) == 4 and tuned["folds"] == [0, 1]
    assert tuned["metrics"]["ner.strict"]["support"] == sum(len(g) for g in GOLD)
    with pytest.raises(ValueError, match="group_by: expected one of"):
        compare_runs(paths, group_by="seed")


def test_a_run_without_predictions_is_predicted_as_the_command_says(run_dir, tmp_path):
    """evaluate.py compare=[...] precision=bf16 decoding=argmax: a run that has no predictions of the split
    yet is predicted with those settings, not silently with the defaults."""
    import shutil

    run = tmp_path / "sweep" / "0"
    shutil.copytree(run_dir, run)
    for old in run.glob("predictions_*.jsonl"):
        old.unlink()
    compare_runs([tmp_path / "sweep"], samples=10, predict={"precision": "bf16", "decoding": "argmax"})
    header = json.loads((run / "predictions_test.jsonl").read_text(encoding="utf-8").splitlines()[0])["header"]
    assert header["precision"] == "bf16" and header["decoding"] == "argmax"


def test_runs_trained_on_other_data_pair_with_others_on_the_split_that_holds_the_same_sentences(tmp_path):
    """PATH@SPLIT: a corpus-trained model's split `seeds` against the seeds' own test predictions."""
    for s in (1, 2, 3):
        fake_run(tmp_path / "seeds_cv", f"a{s}", 1e-4, s, 0.5)
        other = fake_run(tmp_path / "corpus", f"b{s}", 5e-4, s, 0.95)
        (other / "predictions_test.jsonl").rename(other / "predictions_seeds.jsonl")
    result = compare_runs([tmp_path / "seeds_cv", f"{tmp_path / 'corpus'}@seeds"], samples=200)
    b = result["groups"]["trainer.ner.learning_rate=0.0005"]
    assert b["against_baseline"]["ner.strict"]["bootstrap"]["excludes_zero"]
    assert result["split"].endswith("corpus: seeds")
    by_folder = compare_runs([tmp_path / "seeds_cv", f"{tmp_path / 'corpus'}@seeds"], samples=50, group_by="folder")
    assert list(by_folder["groups"]) == ["seeds_cv", "corpus"]
    with pytest.raises(Exception, match="listed twice"):
        compare_runs([tmp_path / "seeds_cv", str(tmp_path / "seeds_cv" / "a1")], samples=10)
