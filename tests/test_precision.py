"""bf16 only where it is native: the probe's two answers, the warning for a forced bf16, the run's
recorded choice and the pre-training cache key that holds it. The probe is patched, so both branches run
on any machine."""

import logging

import pytest

from ie import precision
from ie.errors import ConfigError

from tests.conftest import TINY, compose_config
from tests.test_pretrain import keys, run_with_pretraining


@pytest.fixture
def probe(monkeypatch):
    """Make :func:`ie.precision.bf16_native` answer ``native`` (and forget which warnings were given)."""
    monkeypatch.setattr(precision, "_warned", set())

    def set_native(native: bool):
        why = "a test CPU has AMX" if native else "a test CPU (AVX2) has neither AVX512_BF16 nor AMX"
        monkeypatch.setattr(precision, "bf16_native", lambda device="cpu": (native, why))

    return set_native


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_exactly_where_it_is_native(probe, native):
    probe(native)
    bf16, why = precision.resolve_bf16("auto")
    assert bf16 is native and why.startswith("trainer.bf16=auto: a test CPU")
    assert precision.resolve_precision("auto") == (
        "bf16" if native else "fp32",
        why.replace("trainer.bf16", "precision"),
    )
    # the ONNX graphs have no bf16, and int8 is only ever asked for
    assert precision.resolve_precision("auto", backend="onnx")[0] == "fp32"
    assert precision.resolve_precision("int8")[0] == "int8"


def test_forced_bf16_where_it_is_emulated_runs_and_warns_once_with_the_cost(probe, caplog):
    probe(False)
    caplog.set_level(logging.WARNING, logger="ie.precision")
    assert precision.resolve_bf16(True)[0] is True and precision.resolve_bf16("true")[0] is True
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in warning and "65x slower than fp32" in warning and "trainer.bf16=auto" in warning
    assert precision.resolve_precision("bf16")[0] == "bf16"
    assert "precision=auto would run fp32" in caplog.records[-1].getMessage() and len(caplog.records) == 2
    probe(True)
    caplog.clear()
    precision.resolve_bf16(True)
    assert not caplog.records  # native: nothing to warn about


def test_a_bad_setting_is_one_line():
    with pytest.raises(ConfigError, match=r"trainer.bf16: expected auto, true or false, got 'yes'"):
        precision.resolve_bf16("yes")
    with pytest.raises(ConfigError, match="precision must be one of"):
        precision.resolve_precision("fp16")


def test_the_probe_answers_for_this_machine_in_words():
    native, why = precision.bf16_native.__wrapped__("cpu")
    assert isinstance(native, bool) and why


def test_onednn_limited_to_avx2_is_not_native(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    native, why = precision.bf16_native.__wrapped__("cpu")
    assert native is False and "ONEDNN_MAX_CPU_ISA" in why


@pytest.mark.parametrize("native", [True, False])
def test_a_run_records_its_choice_in_config_and_card(probe, tmp_path, native):
    from ie.training.train import train

    probe(native)
    out = tmp_path / "run"
    train(
        compose_config(
            "train", TINY + ["trainer.bf16=auto", "task=ner", "trainer.report_to=[]", f"paths.output_dir={out}"]
        )
    )
    config = (out / "config.yaml").read_text()
    assert f"bf16: {str(native).lower()}" in config and "bf16_reason: 'trainer.bf16=auto: a test CPU" in config
    card = (out / "README.md").read_text()
    assert f"- trained in {'bf16 autocast' if native else 'fp32'} (trainer.bf16=auto: a test CPU" in card


def test_the_pretraining_cache_key_holds_the_precision_chosen(probe, tmp_path):
    probe(True)
    run_with_pretraining(tmp_path, "native", "pretrain.trainer.bf16=auto")
    (native_key,) = keys(tmp_path)
    probe(False)  # the same settings on a CPU without native bf16: fp32, so another key
    run = run_with_pretraining(tmp_path, "emulated", "pretrain.trainer.bf16=auto")
    assert len(keys(tmp_path)) == 2 and native_key in keys(tmp_path)
    fp32_key = next(k for k in keys(tmp_path) if k != native_key)
    assert "bf16: false" in (tmp_path / "cache" / fp32_key / "config.yaml").read_text()
    assert "bf16: true" in (tmp_path / "cache" / native_key / "config.yaml").read_text()
    assert f"init_from: {tmp_path / 'cache' / fp32_key}" in (run / "config.yaml").read_text()
    probe(True)  # back on a native CPU the bf16 build is reused, not rebuilt
    again = run_with_pretraining(tmp_path, "again", "pretrain.trainer.bf16=auto")
    assert f"init_from: {tmp_path / 'cache' / native_key}" in (again / "config.yaml").read_text()
    assert len(keys(tmp_path)) == 2


def test_the_cache_key_refuses_an_unchosen_precision(tmp_path):
    from ie.training.pretrain import cache_key, pretraining_config

    cfg = compose_config("train", TINY + ["pretrain=conll04", f"paths.output_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="pretrain.trainer.bf16 must be chosen"):
        cache_key(pretraining_config(cfg, tmp_path), "fingerprint")


@pytest.mark.parametrize("native", [True, False])
def test_the_predictor_runs_bf16_by_default_only_where_it_is_native(probe, run_dir, native):
    from ie import Predictor

    probe(native)
    predictor = Predictor.from_pretrained(run_dir)
    assert predictor.precision == ("bf16" if native else "fp32")
    assert predictor.precision_reason.startswith("precision=auto: a test CPU")
    assert Predictor.from_pretrained(run_dir, precision="fp32").precision == "fp32"  # asked for: kept
