"""The encouraging-loss paper's translation experiments (Zhao et al., AAAI 2022) as presets: see `papers`.

`translation/readme.sh` of the authors' repository trains fairseq 0.10 (their fork, under `translation/`):
IWSLT'14 De-En (lines 38-67; the baseline 6-36) and IWSLT'17 Fr-En (lines 100-128; the baseline 69-98), each
for seeds 1 to 5, then averages the last 10 epoch checkpoints and translates the test set with the average and
with the best checkpoint by validation BLEU. Every value below is that script's, or the default of the fairseq
code it runs (the architecture `transformer_iwslt_de_en`, Adam's epsilon, generate.py's maximum length), with
the file and line it comes from. IWSLT is not in tensorflow-datasets: these presets train on `--corpus`, the
output of fairseq's `examples/translation/prepare-iwslt14.sh` (De-En) or its IWSLT'17 analogue (Fr-En).

The paper's loss is the criterion `encourage_loss` with `--bonus_gamma -1 --log_end 0.5 --bonus_rho 1`:
label-smoothed cross-entropy plus the conservative bonus, smoothed the same (`--el_lb 0.1`) and masked on
padding (`--el_mask_pad 1`), which is the package's `conservative_encouraging:0.5` with `label_smoothing=0.1`
and `ignore_class` = padding. The baseline (`--bonus_gamma 0`) is the same criterion without the bonus:
fairseq's label-smoothed cross-entropy `(1 - 0.1) * -log p_y + 0.1 / V * sum_v -log p_v`, the package's
`ce` with `label_smoothing=0.1`.
"""

from keras_losses_experiments.papers.preset import Official, PaperPreset

README = "translation/readme.sh"
TRANSFORMER = "translation/fairseq/models/transformer.py"
CRITERION = "translation/fairseq/criterions/encourage_loss.py"

#: fairseq's `transformer_iwslt_de_en` (transformer.py:967-977 over base_architecture :922-964) and what the
#: example program needs of it; the layers are the De-En script's (6, the architecture's default).
ARCHITECTURE = {
    "architecture": Official("fairseq", f"{TRANSFORMER}:922-977 (transformer_iwslt_de_en over base_architecture)"),
    "model_dim": Official(512, f"{TRANSFORMER}:969 (encoder_embed_dim; decoder :973)"),
    "feedforward_dim": Official(1024, f"{TRANSFORMER}:970 (encoder_ffn_embed_dim; decoder :974)"),
    "heads": Official(4, f"{TRANSFORMER}:971 (encoder_attention_heads; decoder :975)"),
    "attention_dropout": Official(0.0, f"{TRANSFORMER}:940 (attention_dropout; activation_dropout 0 :941)"),
    "sequence_length": Official(1024, f"{TRANSFORMER}:34-35 (max_source_positions, max_target_positions)"),
}
#: What both scripts share: Adam, its schedule, label smoothing, the batches, BLEU, the averaging.
COMMON = {
    "adam_betas": Official((0.9, 0.98), f"{README}:52"),
    "adam_eps": Official(1e-8, "translation/fairseq/optim/adam.py:28-29 (adam_eps default)"),
    "warmup_steps": Official(4000, f"{README}:53 (--lr-scheduler inverse_sqrt --warmup-updates 4000)"),
    "label_smoothing": Official(0.1, f"{README}:54 (--label-smoothing 0.1), :59 (--el_lb 0.1)"),
    "max_tokens": Official(4096, f"{README}:55"),
    "valid_max_len_a": Official(1.2, f"{README}:56 (--eval-bleu-args)"),
    "valid_max_len_b": Official(10, f"{README}:56 (--eval-bleu-args)"),
    "best_by": Official("bleu", f"{README}:57 (--best-checkpoint-metric bleu --maximize-best-checkpoint-metric)"),
    "mixed_precision": Official("float16", f"{README}:59 (--fp16)"),
    "average_last": Official(10, f"{README}:62 (average_checkpoints.py --num-epoch-checkpoints 10)"),
    "beams": Official(5, f"{README}:63-64 (generate.py --beam 5)"),
    "length_penalty": Official(1.0, "translation/fairseq/options.py:351 (--lenpen default)"),
    "max_len_a": Official(0.0, "translation/fairseq/options.py:335 (generate.py --max-len-a default)"),
    "max_len_b": Official(200, "translation/fairseq/options.py:338 (generate.py --max-len-b default)"),
}
SEEDS = Official((1, 2, 3, 4, 5), f"{README}:45 (for seed in 1 2 3 4 5), :14 (baseline)")
DIFFERENCES = (
    (
        "Mixed precision: Keras' mixed_float16 keeps float32 weights and computes in float16, layer normalisation "
        "and softmax in float32; fairseq --fp16 runs the whole model in float16 with float32 master weights. "
        "Loss scaling starts at 2^15 and doubles after 2000 finite steps (Keras), at 2^7 and doubles after "
        "2^14 / update-freq updates (fairseq); a batch with non-finite gradients: Keras skips that batch, fairseq "
        "the whole update; skipped updates count toward --max-updates in neither.",
        "rounding-level differences in the trajectory; no systematic effect on BLEU expected",
    ),
    (
        "Initialisation: fairseq draws q, k, v projections with Xavier gain 1/sqrt(2) "
        "(fairseq/modules/multihead_attention.py:102-104); keras-hub's attention uses Glorot uniform, gain 1. "
        "Every other weight is drawn as fairseq's (Xavier uniform, zero biases, embeddings N(0, d^-0.5) with a "
        "zero padding row, output projection N(0, d^-0.5)).",
        "a different random start; within seed-to-seed variation",
    ),
    (
        "Random numbers: dropout masks and the data order come from Keras' and NumPy's generators, not PyTorch's; "
        "batches and their order are fairseq's for the same --seed (NumPy), dropout masks are not.",
        "runs are not bit-identical to fairseq's for a seed; the mean over 5 seeds is what compares",
    ),
    (
        "Source padding: fairseq left-pads the source, we right-pad it; positions count real tokens only in both "
        "and padding is masked, so the computation is the same up to floating-point summation order.",
        "none beyond rounding",
    ),
    (
        "Validation BLEU (--best-by bleu): sacrebleu 13a with exponential smoothing on Moses-detokenized text "
        "(sacremoses), as fairseq's --eval-bleu --eval-bleu-detok moses; the test BLEU is fairseq generate.py's "
        "BLEU on the tokenized text after --remove-bpe. Both as fairseq computes them (translation/fairseq/tasks/"
        "translation.py:414-448); sacremoses and sacrebleu versions may split a rare token differently.",
        "at most a few hundredths of a BLEU point",
    ),
    (
        "Several devices: --max-tokens batches run on one device (fairseq spreads batches over GPUs, each of "
        "--max-tokens); the one-GPU update of --update-freq 4 is the paper's.",
        "none on one device; on eight use one device or expect a different batch size",
    ),
)


def _preset(name, title, loss_source, baseline_source, flags, differences=DIFFERENCES):
    return PaperPreset(
        name=name,
        program="translation",
        title=title,
        loss=Official("conservative_encouraging:0.5", loss_source),
        baseline=Official("ce", baseline_source),
        seeds=SEEDS,
        flags=flags,
        differences=differences,
    )


PRESETS = (
    _preset(
        "zhao2022-iwslt14-de-en",
        "IWSLT'14 De-En, fairseq transformer_iwslt_de_en (Zhao et al. 2022)",
        f"{README}:40-41, :60 (--bonus_gamma -1 --log_end 0.5 --bonus_rho 1); {CRITERION}:200-213, :241-247",
        f"{README}:9, :29 (--bonus_gamma 0: {CRITERION}:53-72 alone, label-smoothed cross-entropy)",
        {
            **ARCHITECTURE,
            "layers": Official(6, f"{TRANSFORMER}:972 (encoder_layers; decoder :976)"),
            "share_all_embeddings": Official(False, f"{README}:51 (no --share-all-embeddings: 'unshareemb', :47)"),
            "source_lang": Official("de", f"{README}:48 (iwslt14.tokenized.de-en)"),
            "target_lang": Official("en", f"{README}:48 (iwslt14.tokenized.de-en)"),
            "joined_dictionary": Official(False, f"{README}:48 (prepare-iwslt14.sh, fairseq-preprocess per language)"),
            "bpe": Official("subword_nmt", f"{README}:63 (--remove-bpe: '@@ ')"),
            **COMMON,
            "learning_rate": Official(1e-3, f"{README}:58 (--lr 1e-3)"),
            "dropout": Official(0.4, f"{README}:58 (--dropout 0.4)"),
            "weight_decay": Official(1e-4, f"{README}:53 (--weight-decay 0.0001)"),
            "update_freq": Official(4, f"{README}:58 (--update-freq 4)"),
            "max_updates": Official(20000, f"{README}:58 (--max-update 20000)"),
        },
    ),
    _preset(
        "zhao2022-iwslt17-fr-en",
        "IWSLT'17 Fr-En, fairseq transformer_iwslt_de_en with 2 + 2 layers, shared embeddings (Zhao et al. 2022)",
        f"{README}:102-104, :122 (--bonus_gamma -1 --log_end 0.5 --bonus_rho 1); {CRITERION}:200-213, :241-247",
        f"{README}:72-73, :92 (--bonus_gamma 0: {CRITERION}:53-72 alone, label-smoothed cross-entropy)",
        {
            **ARCHITECTURE,
            "layers": Official(2, f"{README}:112 (--encoder-layers 2 --decoder-layers 2)"),
            "share_all_embeddings": Official(True, f"{README}:115 (--share-all-embeddings)"),
            "source_lang": Official("fr", f"{README}:109 (iwslt17.tokenized.cased.fr-en.spm_bpe16k)"),
            "target_lang": Official("en", f"{README}:109 (iwslt17.tokenized.cased.fr-en.spm_bpe16k)"),
            "joined_dictionary": Official(True, f"{README}:115; {TRANSFORMER}:196-198 (sharing needs a joined one)"),
            "bpe": Official("sentencepiece", f"{README}:125 (--remove-bpe sentencepiece)"),
            **COMMON,
            "adam_betas": Official((0.9, 0.98), f"{README}:113"),
            "warmup_steps": Official(4000, f"{README}:114 (--lr-scheduler inverse_sqrt --warmup-updates 4000)"),
            "label_smoothing": Official(0.1, f"{README}:115 (--label-smoothing 0.1), :121 (--el_lb 0.1)"),
            "max_tokens": Official(4096, f"{README}:116"),
            "valid_max_len_a": Official(1.2, f"{README}:117 (--eval-bleu-args)"),
            "valid_max_len_b": Official(10, f"{README}:117 (--eval-bleu-args)"),
            "best_by": Official(
                "bleu", f"{README}:118 (--best-checkpoint-metric bleu --maximize-best-checkpoint-metric)"
            ),
            "mixed_precision": Official("float16", f"{README}:120 (--fp16)"),
            "average_last": Official(10, f"{README}:124 (average_checkpoints.py --num-epoch-checkpoints 10)"),
            "beams": Official(5, f"{README}:125-126 (generate.py --beam 5)"),
            "learning_rate": Official(5e-4, f"{README}:119 (--lr 0.0005)"),
            "dropout": Official(0.3, f"{README}:119 (--dropout 0.3)"),
            "weight_decay": Official(1e-3, f"{README}:114 (--weight-decay 0.001)"),
            "update_freq": Official(1, f"{README}:110-123 (no --update-freq: fairseq's default 1)"),
            "max_updates": Official(100000, f"{README}:119 (--max-update 100000)"),
        },
        DIFFERENCES
        + (
            (
                "Validation BLEU on Fr-En: the script passes --eval-bleu-remove-bpe without a value, i.e. '@@ ' "
                "(translation/fairseq/tasks/translation.py:229), on SentencePiece text: the validation BLEU that picks "
                "the best checkpoint is computed on the pieces, Moses-detokenized; we do the same.",
                "none (the same rule); the test BLEU removes the pieces (--remove-bpe sentencepiece)",
            ),
        ),
    ),
)

#: The refusal when a paper preset has no corpus.
NEEDS_CORPUS = (
    "{name} trains on IWSLT, which is not in tensorflow-datasets: prepare it with fairseq's "
    "examples/translation/prepare-iwslt14.sh (IWSLT'17 Fr-En: the same steps with a joint 16k SentencePiece model) "
    "and give the folder with --corpus DIR"
)

#: Estimated wall-clock time of one run (not measured: from the update counts, about 10 batches of 4096 tokens
#: a second for 6 + 6 layers and 20 for 2 + 2 under mixed precision on one A100/H100-class GPU, plus one
#: validation BLEU pass (beam 5 over the validation split) a minute per epoch).
TIME_ESTIMATES = {
    "zhao2022-iwslt14-de-en": (
        "about 3.5 hours (80,000 batches at ~10/s: 2.2 h; ~73 epochs of validation BLEU: 1.2 h)",
        "one run still uses one GPU (token batches run on one device): the 10 runs (5 seeds x EL and baseline) "
        "two at a time per GPU slot, about 7 hours for all",
    ),
    "zhao2022-iwslt17-fr-en": (
        "about 2.5 hours (100,000 batches at ~20/s: 1.4 h; ~70 epochs of validation BLEU: 1.2 h)",
        "one run per GPU: the 10 runs in about 5 hours",
    ),
}

PAGE_HEAD = """# The papers' experiments: translation (Zhao et al. 2022)

Generated by `python -m keras_losses_experiments.papers.zhao2022_translation` from
`keras_losses_experiments/papers/zhao2022_translation.py`; `tests/examples/test_paper_presets_translation.py`
checks that this page is that output and that every run realizes these values.

The encouraging-loss paper's translation experiments, as `translation/readme.sh` of the authors' repository runs
them with fairseq 0.10 (their fork): `examples/translation.py --preset NAME --corpus DIR` trains the paper's
loss; `--loss ce` (the rest unchanged) trains its baseline, label-smoothed cross-entropy. IWSLT is not in
tensorflow-datasets: prepare it with fairseq's `examples/translation/prepare-iwslt14.sh` (De-En; Fr-En: the
IWSLT'17 files with a joint 16k SentencePiece model) and give the folder of `train.de`, `valid.de`, ... with
`--corpus`. The script runs seeds 1 to 5, and so does the preset (`--seeds`' default: each seed's run in
`--output-dir/seed-<s>`, then `summary.json` with the mean ± std of the test BLEU, final, best and averaged);
`--seed S` runs one of them.

**The loss.** The criterion `encourage_loss` (`translation/fairseq/criterions/encourage_loss.py`) is
label-smoothed cross-entropy `(1 - e) * -log p_y + e / V * sum_v -log p_v` (:53-72) plus the bonus
`b(p) = log(1 - p)` (:204), past `log_end` its tangent (:208-213), smoothed the same way with `--el_lb`:
`(1 - e) * b(p_y) + e / V * sum_v b(p_v)` (:241-247), padding masked (`--el_mask_pad 1`, :238, :243-245). With
`--label-smoothing 0.1 --el_lb 0.1` that is `sum_v q_v * (-log p_v + b(p_v))` with `q = 0.9 * onehot(y) + 0.1 / V`:
the package's `ConservativeEncouragingLoss(log_end=0.5, label_smoothing=0.1, ignore_class=padding)` exactly
(the clamp `max(1 - p, 1e-5)` of :204 is never reached past `log_end` 0.5). The baseline (`--bonus_gamma 0`) is
the first part alone: `CrossEntropy(label_smoothing=0.1, ignore_class=padding)`. Both are normalised by the
non-padding target tokens of the update (fairseq's `sample_size`, `--update-freq` batches together:
`accumulation.weight_by_token_share`).

**The architecture** (`--architecture fairseq`, `translation/fairseq_layers.py`): `transformer_iwslt_de_en`
over `base_architecture` (`translation/fairseq/models/transformer.py:922-977`): post-norm layers
(`*_normalize_before` False, :928, :938), ReLU (:942), attention and activation dropout 0 (:940-941), dropout
`--dropout` on the embeddings and after attention and feed-forward blocks, sinusoidal positions (`*_learned_pos`
False, :929; `fairseq/modules/sinusoidal_positional_embedding.py:44-57`) from position 2, token embeddings scaled by
`sqrt(512)` (`no_scale_embedding` False, :962), embeddings `N(0, 512^-0.5)` with a zero padding row (:907-911), an
output projection without bias `N(0, 512^-0.5)` (:645-650), or with `--share-all-embeddings` one matrix for
source, target and output (Fr-En; `h @ E^T`, a dense logits layer: the chunked `LossHead` cannot share yet),
1024 positions (:34-35).

**The optimizer.** fairseq's Adam (`translation/fairseq/optim/adam.py:190-218`) is Keras' `Adam` update step
for step: epsilon added to `sqrt(v)` and the bias corrections in the step size (:205-211), the weight decay
`p -= lr * wd * p` with the update's learning rate beside it (:213-216; Keras' `weight_decay`, decoupled). The
`inverse_sqrt` schedule (`lr_scheduler/inverse_square_root_schedule.py:56-83`) gives update `k` (from 1) the rate
`lr * min((k - 1) / 4000, sqrt(4000 / (k - 1)))`, counted in updates with `--update-freq`. The embeddings'
gradients reach it dense, as PyTorch's (`translation/embeddings.py`): on TensorFlow Keras' Adam would square each
occurrence of a token in a batch apart (`v` gets the sum of their squares, not the square of their sum).
"""


def page():
    """docs/papers_translation.md."""
    from keras_losses_experiments.papers.preset import table

    parts = [PAGE_HEAD]
    for preset in PRESETS:
        one_gpu, eight_gpus = TIME_ESTIMATES[preset.name]
        differences = "\n".join(f"| {what} | {effect} |" for what, effect in preset.differences)
        parts.append(
            f"\n## `--preset {preset.name}`: {preset.title}\n\n{table(preset)}\n"
            f"**Time (estimated, not measured):** one GPU: {one_gpu}; eight GPUs: {eight_gpus}.\n\n"
            f"**What differs from the script, and its expected effect:**\n\n| difference | expected effect |\n"
            f"| --- | --- |\n{differences}\n"
        )
    return "".join(parts)


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).resolve().parents[2].joinpath("docs", "papers_translation.md").write_text(page(), encoding="utf-8")
