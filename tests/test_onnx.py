"""The ONNX export and backend (``python -m ie.export``, ``backend=onnx``): the predictions torch makes,
without torch installed, and a missing, stale or damaged export refused with the command that rebuilds it."""

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from ie.inference.onnx_backend import ExportError, auto_picks_onnx, cpu_name, threads
from ie.inference.predictor import Predictor

from conftest import ROOT, blocking_imports

TEXTS = [p.read_text(encoding="utf-8")[:3000] for p in sorted((ROOT / "seeds").glob("*.txt"))[:2]] + [
    "Denis Manturov met Emomali Rahmon in Dushanbe on 12 May 2024.",
    "",
]


def outputs(predictions):
    return [
        ([(e.label, e.start, e.end) for e in p.entities], [(r.label, r.head.start, r.tail.start) for r in p.relations])
        for p in predictions
    ]


def scores(predictions):
    return [s for p in predictions for s in [e.score for e in p.entities] + [r.score for r in p.relations]]


@pytest.mark.parametrize("run", ["onnx_run_dir", "onnx_span_run_dir"])  # token and span NER heads
def test_onnx_fp32_predicts_what_torch_fp32_predicts(run, request):
    run = request.getfixturevalue(run)
    exported = Predictor.from_pretrained(run, backend="onnx")
    reference = Predictor.from_pretrained(run, backend="transformers", precision="fp32")
    assert set(exported.backends.values()) == {"onnx"}
    for ours_model, torch_model in ((exported.ner_model, reference.ner_model), (exported.re_model, reference.re_model)):
        if torch_model is None:  # a NER-only run
            continue
        assert ours_model.config.hidden_size == torch_model.config.hidden_size  # the checkpoint's config, as torch's
        assert ours_model.config.id2label == torch_model.config.id2label
    ours, theirs = exported.predict(TEXTS), reference.predict(TEXTS)
    assert outputs(ours) == outputs(theirs)
    assert scores(ours) == pytest.approx(scores(theirs), abs=1e-4)


@pytest.mark.parametrize("run", ["onnx_run_dir", "onnx_span_run_dir"])
def test_the_range_budget_bounds_what_the_graphs_pool_without_changing_predictions(run, request, monkeypatch):
    import ie.inference.predictor as predictor_module

    run = request.getfixturevalue(run)
    reference = Predictor.from_pretrained(run, backend="onnx").predict(TEXTS)
    monkeypatch.setattr(predictor_module, "ONNX_MAX_RANGE_TOKENS", 64)
    small = Predictor.from_pretrained(run, backend="onnx")
    seen = []
    for task, call in list(small._run.items()):

        def recorded(inputs, call=call):
            rows = inputs.get("pair_rows", inputs.get("span_rows"))
            if rows is not None:
                seen.append((len(rows), inputs["input_ids"].shape))
            return call(inputs)

        small._run[task] = recorded
    assert outputs(small.predict(TEXTS)) == outputs(reference)
    assert seen and all(ranges * width <= 64 or batch == 1 for ranges, (batch, width) in seen)


def test_the_manifest_names_sources_and_graphs_with_hashes(onnx_run_dir):
    from ie.inference.onnx_backend import sha256

    manifest = json.loads((onnx_run_dir / "onnx" / "manifest.json").read_text())
    for task in ("ner", "re"):
        entry = manifest["tasks"][task]
        assert entry["source_sha256"] == sha256(onnx_run_dir / task / "model.safetensors")
        for graph in entry["graphs"].values():
            assert graph["sha256"] == sha256(onnx_run_dir / "onnx" / task / graph["file"])
        assert entry["graphs"]["fp32"]["max_abs_logit_diff"] < 1e-3  # checked at export, on other shapes
        # every layer's attention, residual LayerNorms and GELU run as ONNX Runtime's fused ops (fuse=true)
        layers = json.loads((onnx_run_dir / task / "config.json").read_text())["num_hidden_layers"]
        assert entry["graphs"]["fp32"]["fused_ops"] == {
            "Attention": layers,
            "SkipLayerNormalization": 2 * layers,
            "BiasGelu": layers,
        }
    assert set(manifest["tasks"]["re"]["inputs"]) >= {"pair_rows", "head_spans", "tail_spans"}


def test_int8_runs_the_quantised_graphs(onnx_run_dir):
    predictor = Predictor.from_pretrained(onnx_run_dir, backend="onnx", precision="int8")
    assert predictor.precision == "int8" and "int8" in str(predictor.ner_model.session._model_path)
    for prediction, text in zip(predictor.predict(TEXTS), TEXTS):
        assert all(text[e.start : e.end] == e.text for e in prediction.entities)
    with pytest.raises(ValueError, match="precision must be one of"):
        Predictor.from_pretrained(onnx_run_dir, backend="lean", precision="int8")


def test_an_export_copied_on_its_own_still_loads(onnx_run_dir, tmp_path):
    shutil.copytree(onnx_run_dir / "onnx", tmp_path / "served")
    alone = Predictor.from_pretrained(tmp_path / "served", backend="onnx")
    assert outputs(alone.predict(TEXTS)) == outputs(
        Predictor.from_pretrained(onnx_run_dir, backend="onnx").predict(TEXTS)
    )


def test_a_missing_export_names_the_command_that_builds_it(run_dir, onnx_run_dir, tmp_path):
    with pytest.raises(
        ExportError, match=rf"{run_dir}/onnx/manifest.json: no ONNX export.*python -m ie.export run={run_dir}"
    ):
        Predictor.from_pretrained(run_dir, backend="onnx")
    run = tmp_path / "run"
    shutil.copytree(onnx_run_dir, run)
    (run / "onnx" / "ner" / "model.int8.onnx").unlink()
    with pytest.raises(ExportError, match=r"model.int8.onnx: not exported.*python -m ie.export run=.* quantize=int8"):
        Predictor.from_pretrained(run, backend="onnx", precision="int8")


def test_a_stale_export_is_refused(onnx_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(onnx_run_dir, run)
    weights = run / "re" / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")  # the checkpoint changed after the export
    with pytest.raises(ExportError, match=rf"stale \({weights} changed.*python -m ie.export run={run}"):
        Predictor.from_pretrained(run, backend="onnx")


def test_a_damaged_graph_is_named(onnx_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(onnx_run_dir, run)
    graph = run / "onnx" / "ner" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:1000])
    with pytest.raises(ExportError, match=rf"{graph}: cannot load the graph"):
        Predictor.from_pretrained(run, backend="onnx")


def test_auto_takes_the_export_only_where_it_was_measured_faster(onnx_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(onnx_run_dir, run)
    manifest_path = run / "onnx" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    torch_fp32 = Predictor.from_pretrained(run, precision="fp32")  # the export was measured in fp32 only
    assert "timings" not in manifest and torch_fp32.backends == {"ner": "lean", "re": "lean"}

    here = cpu_name()

    def measured(onnx_ms, cpu=here):
        manifest["timings"] = {
            "cpu": cpu,
            "threads": threads(),
            "ms_per_doc": {"torch fp32": 10.0, "onnx fp32": onnx_ms},
        }
        manifest_path.write_text(json.dumps(manifest))

    measured(5.0)
    assert auto_picks_onnx(run, "fp32")
    assert Predictor.from_pretrained(run, precision="fp32").backends == {"ner": "onnx", "re": "onnx"}
    assert not auto_picks_onnx(run, "bf16")  # nothing measured in bf16: torch
    measured(20.0)
    assert not auto_picks_onnx(run, "fp32")
    measured(5.0, cpu="another CPU")
    assert not auto_picks_onnx(run, "fp32")  # measured elsewhere says nothing about this machine
    assert auto_picks_onnx(run, "int8")  # only the export runs int8


def test_the_onnx_backend_needs_neither_torch_nor_transformers(onnx_run_dir, tmp_path):
    (tmp_path / "article.txt").write_text(TEXTS[2], encoding="utf-8")
    script = blocking_imports("torch", "transformers") + textwrap.dedent(f"""
        import json, runpy
        from ie import Predictor
        predictor = Predictor.from_pretrained({str(onnx_run_dir)!r})  # auto: no torch, so the export
        found = [[(e.label, e.start, e.end) for e in p.entities] for p in predictor.predict({TEXTS!r})]
        sys.argv = ["ie.predict", "run={onnx_run_dir}", "backend=onnx", "input={tmp_path / "article.txt"}",
                    "output={tmp_path / "out.jsonl"}"]
        try:
            runpy.run_module("ie.predict", run_name="__main__")
        except SystemExit as done:
            assert not done.code, done.code
        print(json.dumps({{"backends": predictor.backends, "found": found,
                          "torch": [m for m in sys.modules if m.split(".")[0] in ("torch", "transformers")]}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backends"] == {"ner": "onnx", "re": "onnx"} and result["torch"] == []
    expected = Predictor.from_pretrained(onnx_run_dir, backend="onnx").predict(TEXTS)
    assert result["found"] == [[list(e) for e in ents] for ents, _ in outputs(expected)]
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["id"] == "article"


@pytest.mark.parametrize(
    "args, message",
    [
        (["backend=onnx"], "no ONNX export of this run; build it with: python -m ie.export run="),
        (["backend=onnx", "precision=bf16"], "backend=onnx runs precision fp32 or int8"),
    ],
)
def test_predict_cli_one_line_for_an_export_problem(run_dir, args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "ie.predict", f"run={run_dir}", "input=-", *args],
        cwd=ROOT,
        input="Denis Manturov met Emomali Rahmon.",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr


def test_export_cli_refuses_an_unknown_quantisation(run_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "ie.export", f"run={run_dir}", "quantize=int4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "quantize must be null or int8" in proc.stderr and "Traceback" not in proc.stderr
    assert not (run_dir / "onnx").exists()


def test_evaluate_scores_the_export_as_it_scores_torch(onnx_run_dir):
    from ie.evaluation.scoring import evaluate_run

    exported = evaluate_run(onnx_run_dir, backend="onnx", write=False)
    reference = evaluate_run(onnx_run_dir, backend="transformers", write=False)
    for path in (("ner", "strict"), ("re", "gold_entities", "strict"), ("re", "end_to_end", "strict")):
        a, b = exported, reference
        for key in path:
            a, b = a[key], b[key]
        assert a["micro"] == pytest.approx(b["micro"])


def test_evaluate_names_the_run_folder_when_given_an_export_alone(onnx_run_dir):
    proc = subprocess.run(
        [sys.executable, "evaluate.py", f"run={onnx_run_dir / 'onnx'}", "backend=onnx"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "no config.yaml" in proc.stderr and "Traceback" not in proc.stderr


def _alone_and_together(predictor) -> tuple[list, list]:
    """Each text's word confidences and relation scores, predicted with all texts in one call and alone."""

    def read(texts):
        return [
            (confidence, [r.score for r in prediction.relations])
            for prediction, confidence in predictor.predict_with_word_confidence(texts)
        ]

    return read(TEXTS), [read([text])[0] for text in TEXTS]


def _assert_the_same(together, alone):
    for (words_a, relations_a), (words_b, relations_b) in zip(together, alone):
        assert words_a == pytest.approx(words_b, abs=1e-6) and relations_a == pytest.approx(relations_b, abs=1e-6)


def test_dynamic_int8_gives_a_text_the_same_result_alone_or_batched(onnx_run_dir):
    """Dynamic int8 scales activations over a whole call, so the Predictor gives it one window per call: a
    service's answer to a text then does not depend on the requests it was batched with."""
    manifest = json.loads((onnx_run_dir / "onnx" / "manifest.json").read_text())
    assert manifest["int8"]["method"] == "dynamic" and "calibration" not in manifest["int8"]
    predictor = Predictor.from_pretrained(onnx_run_dir, backend="onnx", precision="int8")
    calls = []
    for task, call in list(predictor._run.items()):

        def counted(inputs, call=call):
            calls.append(len(inputs["input_ids"]))
            return call(inputs)

        predictor._run[task] = counted
    _assert_the_same(*_alone_and_together(predictor))
    assert calls and set(calls) == {1}
    assert (
        predictor.ner_model.scales_per_call
        and not Predictor.from_pretrained(onnx_run_dir, backend="onnx", precision="fp32").ner_model.scales_per_call
    )


def test_static_int8_is_calibrated_on_the_training_split_and_batches_freely(run_dir, tmp_path):
    from ie.inference.onnx_export import export_run

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("onnx", "trainer"))
    manifest = export_run(run, quantize="int8", measure=False, calibration="train", calibration_sentences=5)
    assert manifest["int8"]["method"] == "static"
    assert manifest["int8"]["calibration"]["split"] == "train" and manifest["int8"]["calibration"]["sentences"] == 5
    predictor = Predictor.from_pretrained(run, backend="onnx", precision="int8")
    assert not predictor.ner_model.scales_per_call  # fixed scales: windows are batched
    _assert_the_same(*_alone_and_together(predictor))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"calibration": "dev"}, r"calibration must be null \(dynamic int8\) or train, got 'dev'"),
        ({"calibration": "train", "calibration_sentences": 0}, "calibration_sentences must be at least 1"),
        (
            {"calibration": "train", "config": None},
            r"config.yaml: not found, so no training sentences to calibrate int8 with; .*calibration=null",
        ),
    ],
)
def test_static_int8_without_its_data_is_refused_before_exporting(run_dir, tmp_path, change, message):
    from ie.errors import ConfigError
    from ie.inference.onnx_export import export_run

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("onnx", "trainer"))
    if "config" in change:
        (run / "config.yaml").unlink()
    options = {k: v for k, v in change.items() if k != "config"}
    with pytest.raises(ConfigError, match=message):
        export_run(run, quantize="int8", measure=False, **options)
    assert not (run / "onnx").exists()


def test_freed_memory_goes_back_unless_the_process_set_its_own_malloc_thresholds():
    code = "from ie.inference.memory import return_freed_memory; print(return_freed_memory())"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MALLOC_")}
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    own = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "MALLOC_MMAP_THRESHOLD_": "65536"},
    )
    assert (default.stdout.strip(), own.stdout.strip()) == ("True", "False")


def test_threads_sets_the_cores_of_each_call_without_changing_predictions(onnx_run_dir):
    import torch

    every = Predictor.from_pretrained(onnx_run_dir, backend="onnx")
    one = Predictor.from_pretrained(onnx_run_dir, backend="onnx", threads=1)
    assert one.threads == 1 and every.threads is None
    assert one.ner_model.session.get_session_options().intra_op_num_threads == 1
    assert outputs(one.predict(TEXTS)) == outputs(every.predict(TEXTS))
    before = torch.get_num_threads()
    try:  # torch has one pool per process: a torch backend sets it
        Predictor.from_pretrained(onnx_run_dir, backend="lean", threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
