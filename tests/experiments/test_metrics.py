import numpy as np
import pytest

from keras_losses_experiments.classification import metrics


def test_classification_metrics_against_hand_computed_values():
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.1, 0.4], [0.25, 0.15, 0.6]]))
    labels = np.array([0, 2, 0, 0])
    result = metrics.classification_metrics(logits, labels, top_k=(1, 2))
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["top2_accuracy"] == pytest.approx(1.0)
    assert result["nll"] == pytest.approx(-np.mean(np.log([0.7, 0.3, 0.5, 0.25])))
    # confidences 0.7, 0.6, 0.5, 0.6 in 15 bins: (0.667,0.733] {0.7: correct}, (0.533,0.6] {0.6 wrong, 0.6 wrong},
    # (0.467,0.533] {0.5: correct}
    expected_ece = 0.25 * abs(1 - 0.7) + 0.5 * abs(0 - 0.6) + 0.25 * abs(1 - 0.5)
    assert result["ece"] == pytest.approx(expected_ece)


def test_perfectly_calibrated_predictions_have_zero_ece():
    confidence = np.array([0.5] * 4 + [1.0] * 2)
    correct = np.array([True, False, True, False, True, True])
    assert metrics.expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-12)


def test_nll_is_exact_where_the_probability_underflows():
    logits = np.array([[0.0, 800.0], [np.log(3.0), 0.0]])
    # -log softmax: 800 (float64 exp(-800) underflows to 0) and log(4/3).
    assert metrics.negative_log_likelihood(logits, [0, 0]) == pytest.approx((800.0 + np.log(4 / 3)) / 2)


def test_fitted_temperature_minimises_the_nll():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 5)) * 3
    # Labels drawn from softmax(logits / 2): the best temperature is close to 2.
    labels = np.array([rng.choice(5, p=p) for p in metrics.softmax(logits / 2)])
    temperature = metrics.fit_temperature(logits, labels)
    assert 1.6 < temperature < 2.5

    def nll(t):
        return metrics.negative_log_likelihood(logits / t, labels)

    # A minimum: lower than at nearby temperatures, and the derivative (central differences) is about 0.
    assert nll(temperature) < min(nll(temperature * 0.97), nll(temperature * 1.03))
    assert abs(nll(temperature * 1.001) - nll(temperature / 1.001)) < 1e-6


def test_calibrated_metrics_at_temperature_one_equal_the_raw_ones():
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.1, 0.4]]))
    labels = np.array([0, 2, 0])
    raw, calibrated = metrics.classification_metrics(logits, labels), metrics.calibrated_metrics(logits, labels, 1.0)
    assert calibrated == {"calibrated_nll": pytest.approx(raw["nll"]), "calibrated_ece": pytest.approx(raw["ece"])}
    sharper = metrics.calibrated_metrics(logits, labels, 0.5)
    assert sharper["calibrated_nll"] == pytest.approx(metrics.negative_log_likelihood(logits * 2, labels))


def test_true_class_probabilities():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    np.testing.assert_allclose(metrics.true_class_probabilities(logits, [1, 0]), [0.5, 0.75])
