"""The verdict's statistics against hand-computed numbers."""

import math

import numpy as np
import pytest

from keras_losses_experiments.comparison import verdict


def test_paired_interval_against_a_hand_computed_example():
    # Per-seed differences 0.02, 0.04, 0.03, 0.05: mean 0.035, sd sqrt(0.0005 / 3) = 0.0129099,
    # t(0.975, 3) = 3.182446, half-width 3.182446 * 0.0129099 / 2 = 0.0205428.
    baseline = [0.90, 0.91, 0.89, 0.90]
    loss = [0.92, 0.95, 0.92, 0.95]
    d = verdict.paired_difference(loss, baseline, "square", "ce", "accuracy")
    assert d.seeds == 4 and d.mean == pytest.approx(0.035)
    assert d.std == pytest.approx(math.sqrt(0.0005 / 3))
    assert (d.low, d.high) == pytest.approx((0.035 - 0.0205428, 0.035 + 0.0205428), abs=1e-6)
    assert d.verdict == "better"


def test_pairing_removes_the_shared_seed_effect():
    # Seed effects of +-0.05 shared by both losses: unpaired the means overlap, paired the gap is exact.
    seed_effect = np.array([0.05, -0.05, 0.02, -0.02])
    d = verdict.paired_difference(0.81 + seed_effect, 0.80 + seed_effect, metric="accuracy")
    assert d.std == pytest.approx(0.0, abs=1e-12) and d.verdict == "better" and d.seeds_needed == 2


def test_lower_is_better_for_nll_and_an_interval_across_zero_is_no_verdict():
    worse_nll = verdict.paired_difference([0.50, 0.52, 0.51], [0.40, 0.41, 0.42], metric="nll")
    assert worse_nll.verdict == "worse"
    better_nll = verdict.paired_difference([0.30, 0.31, 0.32], [0.40, 0.41, 0.42], metric="nll")
    assert better_nll.verdict == "better"
    unclear = verdict.paired_difference([0.91, 0.89, 0.90], [0.90, 0.90, 0.90], metric="accuracy")
    assert unclear.verdict == "no detectable difference with 3 seeds" and unclear.low < 0 < unclear.high


def test_one_seed_gives_no_interval():
    d = verdict.paired_difference([0.9], [0.8])
    assert d.seeds == 1 and math.isnan(d.low) and d.seeds_needed is None
    assert "from one seed: no confidence interval" in verdict.sentence(d)


@pytest.mark.parametrize("effect,expected", [(0.5, 34), (1.0, 10)])
def test_seeds_to_resolve_matches_the_power_table(effect, expected):
    # Two-sided paired t-test, alpha 0.05, power 0.8, effect size d / s_d: G*Power's table gives 34 and 10.
    assert verdict.seeds_to_resolve(effect * 0.01, 0.01) == expected


def test_seeds_to_resolve_against_a_simulated_t_test():
    # Effect 1.5: simulated paired t-tests reach 80% power with the returned n seeds, not with one fewer.
    n = verdict.seeds_to_resolve(0.015, 0.01)
    rng = np.random.default_rng(0)

    def simulated_power(seeds):
        from scipy import stats

        x = rng.normal(1.5, 1.0, (100_000, seeds))
        t = x.mean(1) / (x.std(1, ddof=1) / np.sqrt(seeds))
        return (np.abs(t) > stats.t.ppf(0.975, seeds - 1)).mean()

    assert simulated_power(n) > 0.8 > simulated_power(n - 1)


def test_seeds_to_resolve_edge_cases():
    assert verdict.seeds_to_resolve(0.0, 0.01) is None
    assert verdict.seeds_to_resolve(0.01, 0.0) == 2
    assert verdict.seeds_to_resolve(1e-6, 1.0) == verdict.MAX_SEEDS + 1


def test_compare_with_baseline_pairs_by_seed():
    runs = {
        ("ce", 0): {"accuracy": 0.8},
        ("ce", 1): {"accuracy": 0.9},
        ("square", 0): {"accuracy": 0.85},
        ("square", 1): {"accuracy": 0.97},
    }
    (d,) = verdict.compare_with_baseline(runs, "ce", ["accuracy"])
    assert (d.loss, d.baseline, d.seeds) == ("square", "ce", 2) and d.mean == pytest.approx(0.06)
    assert d.std == pytest.approx(np.std([0.05, 0.07], ddof=1))
