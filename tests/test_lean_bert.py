"""The lean inference encoder computes what transformers computes, from the same checkpoint files, and
anything it cannot run goes to transformers (or fails clearly when the lean backend was asked for)."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForTokenClassification

from ie.encoding.markers import collate_windows
from ie.encoding.tokenization import encode_words
from ie.inference.predictor import Predictor
from ie.models import lean_bert
from ie.models.checkpoint import CheckpointError, SavedTokenizer
from ie.models.modeling import MarkerRelationModel
from ie.training.collators import as_tensors

from tests.conftest import rounded

TEXT = "Denis Manturov met Emomali Rahmon in Dushanbe on July 15. The Lipetsk Region signed a roadmap."


def padded_batch(vocab: int, lengths=(9, 4, 13)):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (len(lengths), max(lengths)), generator=gen)
    mask = (torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids * mask, mask


def test_token_classifier_logits_equal_transformers(run_dir):
    theirs = AutoModelForTokenClassification.from_pretrained(run_dir / "ner").eval()
    ours = lean_bert.load(run_dir / "ner")
    ids, mask = padded_batch(theirs.config.vocab_size)
    with torch.inference_mode():
        expected, got = theirs(input_ids=ids, attention_mask=mask).logits, ours(ids, mask).logits
    real = mask.bool()
    torch.testing.assert_close(got[real], expected[real], rtol=1e-5, atol=1e-5)
    assert ours.config.id2label == theirs.config.id2label


def test_matmuls_see_a_bounded_set_of_row_counts(run_dir):
    """Each new matmul shape costs oneDNN kernel memory for the life of the process, so however the
    batches come, the linear layers see only bucketed row counts, padding rows excluded."""
    assert [lean_bert.bucket(n) for n in (1, 16, 17, 200, 256, 257, 321, 1000, 2048)] == [
        16,
        16,
        32,
        256,
        256,
        320,
        384,
        1024,
        2048,
    ]
    sizes = {lean_bert.bucket(n) for n in range(1, 2049)}
    assert len(sizes) == 17 and all(
        lean_bert.bucket(n) <= max(16, 2 * n if n <= 256 else 1.25 * n) for n in range(1, 4097)
    )
    model = lean_bert.load(run_dir / "ner")
    seen = set()
    model.encoder.intermediate[0].register_forward_pre_hook(lambda _m, args: seen.add(args[0].shape[0]))
    rng = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for _ in range(20):
            lengths = torch.randint(1, 40, (int(torch.randint(1, 9, (1,), generator=rng)),), generator=rng)
            ids, mask = padded_batch(model.config.vocab_size, tuple(lengths.tolist()))
            logits = model(ids, mask).logits
            assert not logits[~mask.bool()].any()  # padding positions are left at zero
    assert seen and seen <= sizes


def test_pair_classifier_logits_equal_transformers(run_dir):
    theirs = MarkerRelationModel.from_pretrained(run_dir / "re").eval()
    ours = lean_bert.load(run_dir / "re")
    ids, _ = padded_batch(theirs.config.vocab_size)
    rows = [
        {"input_ids": ids[0, :9].tolist(), "head_spans": [[1, 3], [5, 7]], "tail_spans": [[5, 7], [1, 3]]},
        {"input_ids": ids[2].tolist(), "head_spans": [[0, 2]], "tail_spans": [[9, 12]]},
    ]
    batch = as_tensors(collate_windows(rows, 0, multiple=8))
    with torch.inference_mode():
        torch.testing.assert_close(ours(**batch).logits, theirs(**batch).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_backends_give_the_same_predictions(run_dir, precision):
    """In bf16 too: the transformers backend rounds its embedding tables to bf16, as the lean one stores them."""
    lean = Predictor.from_pretrained(run_dir, precision=precision)
    reference = Predictor.from_pretrained(run_dir, backend="transformers", precision=precision)
    assert lean.backends == {"ner": "lean", "re": "lean"}
    assert reference.backends == {"ner": "transformers", "re": "transformers"}
    texts = [TEXT, "", TEXT * 20]
    assert rounded(lean.predict(texts)) == rounded(reference.predict(texts))


def test_bf16_keeps_matmuls_in_bf16_and_the_residual_stream_in_fp32(run_dir):
    full = lean_bert.load(run_dir / "ner")
    half = lean_bert.load(run_dir / "ner", torch.bfloat16)
    assert half.encoder.qkv[0].weight.dtype == half.classifier.weight.dtype == torch.bfloat16
    assert half.encoder.word_embeddings.weight.dtype == torch.bfloat16
    assert half.encoder.output_norm[0].weight.dtype == torch.float32  # LayerNorms stay fp32
    ids, mask = padded_batch(full.config.vocab_size)
    with torch.inference_mode():
        assert half.encoder(ids, mask).dtype == torch.float32
        expected, got = full(ids, mask).logits, half(ids, mask).logits.float()
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], rtol=0.05, atol=0.05)
    # a Predictor given the fp32 model at precision="bf16" casts it the same way
    assert (
        Predictor(
            Predictor.from_pretrained(run_dir).schema,
            ner_model=full,
            ner_tokenizer=SavedTokenizer(run_dir / "ner"),
            precision="bf16",
        )
        .ner_model.encoder.qkv[0]
        .weight.dtype
        == torch.bfloat16
    )


def test_a_checkpoint_the_lean_encoder_cannot_run_goes_to_transformers(run_dir, tmp_path):
    shutil.copytree(run_dir / "ner", tmp_path / "ner")
    config = json.loads((tmp_path / "ner" / "config.json").read_text())
    config["hidden_act"] = "silu"
    (tmp_path / "ner" / "config.json").write_text(json.dumps(config))
    assert Predictor.from_pretrained(tmp_path).backends == {"ner": "transformers"}
    with pytest.raises(CheckpointError, match=r"backend='lean' cannot run .*hidden_act 'silu'"):
        Predictor.from_pretrained(tmp_path, backend="lean")
    with pytest.raises(ValueError, match="backend must be one of"):
        Predictor.from_pretrained(run_dir, backend="tensorrt")


def test_a_missing_or_unknown_weight_is_named(run_dir, tmp_path):
    shutil.copytree(run_dir / "ner", tmp_path / "ner")
    path = tmp_path / "ner" / "model.safetensors"
    weights = load_file(path)
    weights.pop("bert.encoder.layer.1.attention.self.key.bias")
    save_file(weights, path)
    with pytest.raises(CheckpointError, match=r"missing weight 'bert.encoder.layer.1.attention.self.key.bias'"):
        lean_bert.load(tmp_path / "ner")
    save_file({**load_file(run_dir / "ner" / "model.safetensors"), "bert.extra.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=r"unexpected weight 'bert.extra.weight'"):
        lean_bert.load(tmp_path / "ner")


def test_the_saved_tokenizer_splits_words_as_transformers_does(run_dir):
    from transformers import AutoTokenizer

    words = [
        ["Denis", "Manturov", "met", "Rahmon", "in", "Dushanbe", "."],
        ["<e:PER>", "Ivan", "</e:PER>"],
        ["\u200b", "e\u0301", "😀", "Привет", "中文", "", "[SEP]", "x" * 300],
        ["a"],
    ]
    for task in ("ner", "re"):
        transformers_tok, saved = AutoTokenizer.from_pretrained(run_dir / task), SavedTokenizer(run_dir / task)
        expected = transformers_tok(words, is_split_into_words=True, add_special_tokens=False)
        got = encode_words(saved, words)
        assert [e.ids for e in got] == expected["input_ids"]
        assert [e.word_ids for e in got] == [expected.word_ids(i) for i in range(len(words))]
        assert (saved.pad_token_id, saved.unk_token_id, len(saved)) == (
            transformers_tok.pad_token_id,
            transformers_tok.unk_token_id,
            len(transformers_tok),
        )
    assert SavedTokenizer(run_dir / "re").convert_tokens_to_ids("<e:PER>") is not None


def test_a_run_without_a_tokenizer_file_is_refused(run_dir, tmp_path):
    shutil.copytree(run_dir / "ner", tmp_path / "ner")
    (tmp_path / "ner" / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="no tokenizer.json"):
        Predictor.from_pretrained(tmp_path)
