"""Train an encoder-decoder transformer translator with any loss of keras-losses and report BLEU.

The papers' machine-translation experiments as a program (the encouraging-loss paper trains a Transformer
on IWSLT De-En; here tensorflow-datasets' TED Pt-En by default, WMT14 De-En by flag):

    # Transformer-base, conservative encouraging loss with label smoothing 0.1, beam search 4
    python examples/translation.py --preset base --loss conservative_encouraging --label-smoothing 0.1 --beams 4

    # Offline smoke test on random sentences (a few steps on a CPU)
    python examples/translation.py --mock-data 32 --preset tiny --epochs 1 --steps-per-epoch 2

Sub-word WordPiece vocabularies are trained on the training split and saved beside the model
(`source_vocabulary.txt`, `target_vocabulary.txt`). Padding (id 0) is masked in attention and ignored by the
loss (`ignore_class=0`) and by token accuracy. Adam (0.9, 0.98, 1e-9) with the inverse-square-root warm-up.
BLEU is sacrebleu's corpus BLEU on detokenized test translations. Same distribution, mixed-precision,
backup/restore, logging and `results.json` conventions as examples/image_classification.py.
"""

import argparse
import time
from dataclasses import replace
from pathlib import Path


def build_parser():
    from keras_losses.experiments import loss_specs, training, translation

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--dataset", default="ted_hrlr_translate/pt_to_en", choices=translation.TRANSLATION_DATASETS)
    parser.add_argument("--preset", default="base", choices=tuple(translation.PRESETS))
    parser.add_argument("--layers", type=int, help="override the preset")
    parser.add_argument("--model-dim", type=int, help="override the preset")
    parser.add_argument("--heads", type=int, help="override the preset")
    parser.add_argument("--feedforward-dim", type=int, help="override the preset")
    parser.add_argument("--dropout", type=float, help="override the preset")
    loss_specs.add_loss_arguments(parser, label_smoothing=0.1)
    parser.add_argument("--vocabulary-size", type=int, default=8000, help="WordPiece vocabulary size per language")
    parser.add_argument("--sequence-length", type=int, default=translation.SEQUENCE_LENGTH, help="tokens per sentence (longer are cut)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64, help="sentence pairs per replica")
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--warmup-steps", type=int, default=4000)
    parser.add_argument("--learning-rate-scale", type=float, default=1.0, help="multiplies the schedule")
    parser.add_argument("--beams", type=int, default=4, help="beam size for the test translations (1: greedy)")
    parser.add_argument("--test-sentences", type=int, help="translate at most this many test sentences")
    training.add_run_arguments(parser, output_dir="runs/translation")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras

    from keras_losses.experiments import loss_specs, metrics, training, translation

    strategy = training.get_strategy(args.strategy)
    policy = training.set_mixed_precision(args.mixed_precision, strategy)
    global_batch = args.batch_size * strategy.num_replicas_in_sync
    preset = translation.PRESETS[args.preset]
    overrides = {
        "layers": args.layers, "model_dim": args.model_dim, "heads": args.heads,
        "feedforward_dim": args.feedforward_dim, "dropout": args.dropout,
    }
    preset = replace(preset, **{key: value for key, value in overrides.items() if value is not None})
    output_dir = Path(args.output_dir)
    keras.utils.set_random_seed(args.seed)

    train_pairs, test_pairs = translation.load_pairs(args.dataset, args.mock_data)
    source_tokenizer, target_tokenizer = translation.train_tokenizers(train_pairs, args.vocabulary_size, output_dir)
    batches = lambda pairs, seed=None: translation.make_batches(  # noqa: E731
        pairs, source_tokenizer, target_tokenizer, args.sequence_length, global_batch, seed
    )
    train = training.distributable(batches(train_pairs, args.seed).repeat(), strategy)
    test = training.distributable(batches(test_pairs), strategy)
    train_size = args.mock_data or sum(1 for _ in train_pairs)
    steps = args.steps_per_epoch or max(1, train_size // global_batch)

    spec = loss_specs.spec_from_arguments(args)
    with strategy.scope():
        model = translation.compiled_translator(
            spec, source_tokenizer, target_tokenizer, args.sequence_length, preset, args.label_smoothing,
            args.warmup_steps, args.learning_rate_scale,
        )

    chief = training.is_chief(strategy)
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=args.epochs,
        steps_per_epoch=steps,
        validation_data=test,
        callbacks=training.callbacks(output_dir, chief, monitor="val_token_accuracy"),
        verbose="auto",
    )
    train_seconds = time.perf_counter() - start
    evaluation = model.evaluate(test, verbose=0, return_dict=True)

    pairs = translation.sentence_pairs(test_pairs, args.test_sentences)
    sources, references = [p[0] for p in pairs], [p[1] for p in pairs]
    hypotheses = translation.translate(
        model, source_tokenizer, target_tokenizer, sources, args.sequence_length, beams=args.beams
    )
    results = {
        "dataset": args.dataset,
        "loss": spec,
        "loss_config": model.loss.get_config(),
        "label_smoothing": args.label_smoothing,
        "preset": args.preset,
        "architecture": preset,
        "vocabulary_sizes": {"source": source_tokenizer.vocabulary_size(), "target": target_tokenizer.vocabulary_size()},
        "global_batch_size": global_batch,
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "mixed_precision_policy": policy,
        "epochs": args.epochs,
        "initial_epoch": history.epoch[0] if history.epoch else None,  # > 0: resumed from a backup
        "train_seconds": train_seconds,
        "test_loss": evaluation["loss"],
        "token_accuracy": evaluation["token_accuracy"],
        "beams": args.beams,
        "test_sentences": len(pairs),
        "bleu": metrics.bleu(hypotheses, references),
        "samples": [
            {"source": s, "reference": r, "translation": h} for s, r, h in list(zip(sources, references, hypotheses))[:3]
        ],
    }
    training.finish(model, results, output_dir, chief)
    for sample in results["samples"]:
        print(f"  {sample['source']}\n  -> {sample['translation']}\n  (reference: {sample['reference']})")
    print(f"{spec}: BLEU {results['bleu']:.2f}, token accuracy {results['token_accuracy']:.4f}")
    return results


if __name__ == "__main__":
    main()
