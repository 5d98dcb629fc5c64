"""Evaluation metrics computed from a model's raw outputs (logits): accuracy, NLL, ECE, temperature scaling."""

import numpy as np


def log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits):
    return np.exp(log_softmax(logits))


def negative_log_likelihood(logits, labels):
    """Mean `-log softmax(logits)[label]`, computed from the logits (exact where the probability underflows)."""
    labels = np.asarray(labels).astype(int)
    return float(-np.take_along_axis(log_softmax(logits), labels[:, None], axis=-1).mean())


def expected_calibration_error(confidence, correct, bins=15):
    """ECE (Guo et al., 2017): `sum_b |B_b| / N * |accuracy(B_b) - mean confidence(B_b)|` over `bins`
    equal-width bins of each prediction's confidence (its largest probability); `correct` says whether the
    prediction was right."""
    confidence, correct = np.asarray(confidence), np.asarray(correct)
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
    results["nll"] = negative_log_likelihood(logits, labels)
    results["ece"] = expected_calibration_error(probabilities.max(axis=-1), probabilities.argmax(axis=-1) == labels)
    return results


def fit_temperature(logits, labels):
    """The temperature `T` minimising the NLL of `softmax(logits / T)` (Guo et al., 2017), in [1e-3, 1e3].

    The NLL is convex in `1 / T`, so a bounded scalar search over `log T` finds the minimum.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, np.float64)

    def nll(log_temperature):
        return negative_log_likelihood(logits / np.exp(log_temperature), labels)

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded").x))


def calibrated_metrics(logits, labels, temperature):
    """Test NLL and ECE of `softmax(logits / temperature)`, as `calibrated_nll` and `calibrated_ece`."""
    scaled = classification_metrics(np.asarray(logits, np.float64) / temperature, labels)
    return {"calibrated_nll": scaled["nll"], "calibrated_ece": scaled["ece"]}


def token_metrics(batches, padding_id=0):
    """Token accuracy, NLL and ECE over the non-padding labels of `(logits [B, L, V], labels [B, L])` batches.

    Streams: only per-token numbers are kept, never the logits of the whole test set.
    Returns the metrics and the true-class probability of every token.
    """
    confidence, correct, true_log_probability = [], [], []
    for logits, labels in batches:
        valid = labels != padding_id
        log_probabilities = log_softmax(logits[valid])
        targets = labels[valid].astype(int)
        confidence.append(np.exp(log_probabilities.max(axis=-1)))
        correct.append(log_probabilities.argmax(axis=-1) == targets)
        true_log_probability.append(log_probabilities[np.arange(len(targets)), targets])
    confidence, correct, true_log_probability = (np.concatenate(x) for x in (confidence, correct, true_log_probability))
    results = {
        "accuracy": float(correct.mean()),
        "nll": float(-true_log_probability.mean()),
        "ece": expected_calibration_error(confidence, correct),
    }
    true_probability = np.exp(true_log_probability)
    return results, true_probability
