"""Is a loss better than the baseline? Paired differences over seeds, their 95% confidence interval, and
the number of seeds that would resolve a difference of the observed size (`METHOD`, `SEEDS_METHOD`)."""

from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
POWER = 0.8
MAX_SEEDS = 1000
#: Metrics where higher is better; all others (NLL, ECE, seconds) are better lower.
HIGHER_IS_BETTER = ("accuracy", "top5_accuracy", "bleu")

METHOD = (
    "Runs of two losses with the same seed share the initial weights and the order of the training data, so the "
    "per-seed differences d_s = metric(loss, s) - metric(baseline, s) remove the seed-to-seed variation both "
    "share. With n seeds, mean d and standard deviation s_d (ddof 1), the 95% interval is the paired t interval "
    'd ± t(0.975, n - 1) · s_d / √n. The verdict is "better" or "worse" when it excludes 0, else "no '
    'detectable difference with n seeds" (not corrected for comparing several losses and metrics).'
)
SEEDS_METHOD = (
    "the smallest n for which a two-sided paired t-test at the 5% level has 80% power against a true difference "
    "equal to the observed d with the observed spread s_d (power from the noncentral t distribution, "
    "noncentrality √n · d / s_d). A planning figure: d and s_d are themselves estimates."
)


@dataclass(frozen=True)
class Difference:
    """`loss` minus `baseline` on `metric`, paired by seed."""

    loss: str
    baseline: str
    metric: str
    seeds: int
    mean: float
    std: float
    low: float  # the confidence interval; NaN with one seed
    high: float
    verdict: str  # "better", "worse", "no detectable difference with N seeds", "one seed: no interval"
    seeds_needed: int | None  # None: no difference observed (or one seed)


def paired_difference(values, baseline_values, loss="loss", baseline="baseline", metric="accuracy"):
    """Compares two equal-length sequences of per-seed results (the same seeds in the same order)."""
    values, baseline_values = np.asarray(values, np.float64), np.asarray(baseline_values, np.float64)
    if values.shape != baseline_values.shape or values.ndim != 1 or len(values) == 0:
        raise ValueError(
            f"expected two equal-length lists of per-seed results; got {values.shape} and {baseline_values.shape}"
        )
    differences = values - baseline_values
    n, mean = len(differences), float(differences.mean())
    if n == 1:
        return Difference(
            loss, baseline, metric, 1, mean, float("nan"), float("nan"), float("nan"), "one seed: no interval", None
        )
    from scipy import stats

    std = float(differences.std(ddof=1))
    half_width = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / np.sqrt(n)
    low, high = mean - half_width, mean + half_width
    if low > 0 or high < 0:
        gain = mean if metric in HIGHER_IS_BETTER else -mean
        verdict = "better" if gain > 0 else "worse"
    else:
        verdict = f"no detectable difference with {n} seeds"
    return Difference(loss, baseline, metric, n, mean, std, low, high, verdict, seeds_to_resolve(mean, std))


def seeds_to_resolve(mean, std, alpha=1 - CONFIDENCE, power=POWER, max_seeds=MAX_SEEDS):
    """Smallest n >= 2 with the given power of a two-sided paired t-test against a true difference `mean`
    with per-seed standard deviation `std`; `max_seeds + 1` when even `max_seeds` are not enough, None when
    `mean` is 0 (nothing to resolve)."""
    from scipy import stats

    if mean == 0:
        return None
    if std == 0:
        return 2
    effect = abs(mean) / std
    for n in range(2, max_seeds + 1):
        critical = stats.t.ppf(1 - alpha / 2, n - 1)
        noncentrality = np.sqrt(n) * effect
        achieved = stats.nct.sf(critical, n - 1, noncentrality) + stats.nct.cdf(-critical, n - 1, noncentrality)
        if achieved >= power:
            return n
    return max_seeds + 1


def compare_with_baseline(runs, baseline, metrics):
    """Every loss other than `baseline` against it, on each of `metrics`, over the seeds both ran.

    `runs` maps `(loss, seed)` to a dict of metrics.
    """
    losses = list(dict.fromkeys(loss for loss, _ in runs))
    differences = []
    for loss in losses:
        if loss == baseline:
            continue
        seeds = sorted(seed for (other, seed) in runs if other == loss and (baseline, seed) in runs)
        for metric in metrics:
            mine = [runs[loss, seed][metric] for seed in seeds]
            theirs = [runs[baseline, seed][metric] for seed in seeds]
            differences.append(paired_difference(mine, theirs, loss, baseline, metric))
    return differences


def sentence(difference, digits=4):
    """E.g. `square vs ce, accuracy: -0.0120 [-0.0300, +0.0060] over 3 seeds: no detectable difference with
    3 seeds; about 12 seeds would resolve a difference of this size.`"""
    d = difference
    head = f"{d.loss} vs {d.baseline}, {d.metric}: {d.mean:+.{digits}f}"
    if d.seeds == 1:
        return f"{head} from one seed: no confidence interval; run --seeds 3 or more."
    text = f"{head} [{d.low:+.{digits}f}, {d.high:+.{digits}f}] over {d.seeds} seeds: {d.verdict}"
    if d.verdict.startswith("no detectable"):
        if d.seeds_needed is None:
            text += " (the runs agree exactly)"
        elif d.seeds_needed > MAX_SEEDS:
            text += f"; more than {MAX_SEEDS} seeds would be needed to resolve a difference of this size"
        else:
            text += f"; about {d.seeds_needed} seeds would resolve a difference of this size"
    return text + "."
