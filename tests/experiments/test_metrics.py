import numpy as np
import pytest

from keras_losses.experiments import metrics


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
    probabilities = np.array([[0.5, 0.5]] * 4 + [[1.0, 0.0]] * 2)
    labels = np.array([0, 1, 0, 1, 0, 0])
    assert metrics.expected_calibration_error(probabilities, labels) == pytest.approx(0.0, abs=1e-12)


def test_true_class_probabilities():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    np.testing.assert_allclose(metrics.true_class_probabilities(logits, [1, 0]), [0.5, 0.75])
