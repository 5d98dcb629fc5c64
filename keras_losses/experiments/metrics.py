"""Evaluation metrics computed from a model's raw outputs (logits): accuracy, NLL, ECE; BLEU."""

import numpy as np


def softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def expected_calibration_error(probabilities, labels, bins=15):
    """ECE with `bins` equal-width confidence bins (Guo et al., 2017), confidence = max probability."""
    return calibration_error(probabilities.max(axis=-1), probabilities.argmax(axis=-1) == labels, bins)


def calibration_error(confidence, correct, bins=15):
    """ECE from each prediction's confidence and whether it was right."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def true_class_probabilities(logits, labels):
    return np.take_along_axis(softmax(logits), np.asarray(labels)[:, None], axis=-1)[:, 0]


def classification_metrics(logits, labels, top_k=(1,)):
    """Accuracy (top-1, and top-k for each k > 1), test NLL and ECE from logits `[N, C]`.

    The probabilities are `softmax(logits)` for every loss, square loss included,
    so that NLL and ECE compare like with like.
    """
    labels = np.asarray(labels).astype(int)
    probabilities = softmax(logits)
    results = {"accuracy": float((probabilities.argmax(-1) == labels).mean())}
    for k in top_k:
        if k > 1:
            top = np.argsort(-probabilities, axis=-1)[:, :k]
            results[f"top{k}_accuracy"] = float((top == labels[:, None]).any(-1).mean())
    true_probability = np.take_along_axis(probabilities, labels[:, None], axis=-1)[:, 0]
    results["nll"] = float(-np.log(np.maximum(true_probability, 1e-12)).mean())
    results["ece"] = expected_calibration_error(probabilities, labels)
    return results


def token_metrics(batches, padding_id=0):
    """Token accuracy, NLL and ECE over the non-padding labels of `(logits [B, L, V], labels [B, L])` batches.

    Streams: only per-token numbers are kept, never the logits of the whole test set.
    Returns the metrics and the true-class probability of every token.
    """
    confidence, correct, true_probability = [], [], []
    for logits, labels in batches:
        valid = labels != padding_id
        probabilities = softmax(logits[valid])
        targets = labels[valid].astype(int)
        confidence.append(probabilities.max(axis=-1))
        correct.append(probabilities.argmax(axis=-1) == targets)
        true_probability.append(probabilities[np.arange(len(targets)), targets])
    confidence, correct, true_probability = (np.concatenate(x) for x in (confidence, correct, true_probability))
    results = {
        "accuracy": float(correct.mean()),
        "nll": float(-np.log(np.maximum(true_probability, 1e-12)).mean()),
        "ece": calibration_error(confidence, correct),
    }
    return results, true_probability


def bleu(hypotheses, references):
    """Corpus BLEU of detokenized sentences with sacrebleu's default tokenization (0-100)."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)
