"""`--seeds` on examples/translation.py, both paths: each seed's run in `seed-<s>/` (its own seed recorded), and
`summary.json` with BLEU's mean ± std (ddof 1) over the runs, recomputed here from their results.json."""

import json

import numpy as np
import pytest

from tests.examples.example_runs import TINY_TRANSLATION_RUN
from tests.examples.test_paper_presets_translation import write_corpus


def _check_summary(output, seeds, metrics):
    summary = json.loads((output / "summary.json").read_text())
    assert summary["seeds"] == seeds and summary["runs"] == {str(s): f"seed-{s}" for s in seeds}
    runs = [json.loads((output / f"seed-{s}" / "results.json").read_text()) for s in seeds]
    assert [run["seed"] for run in runs] == seeds
    for metric in metrics:
        values = [run[metric] for run in runs]
        assert summary[metric]["values"] == pytest.approx(values)
        assert summary[metric]["mean"] == pytest.approx(np.mean(values))
        assert summary[metric]["std"] == pytest.approx(np.std(values, ddof=1))
    return runs


def test_seeds_on_sentence_batches(translation_example, tmp_path):
    output = tmp_path / "run"
    argv = [*TINY_TRANSLATION_RUN, "--batch-size", "4", "--strategy", "default", "--epochs", "1", "--seeds", "2"]
    summary = translation_example["main"]([*argv, "--output-dir", str(output)])
    runs = _check_summary(output, [0, 1], ("bleu", "token_accuracy"))
    assert summary["bleu"]["mean"] == pytest.approx(np.mean([run["bleu"] for run in runs]))
    assert runs[0]["test_loss"] != runs[1]["test_loss"]  # another seed: other initial weights


def test_seeds_on_a_corpus(translation_example, tmp_path):
    (tmp_path / "corpus").mkdir()
    write_corpus(tmp_path / "corpus", sentences=24)
    output = tmp_path / "run"
    argv = ["--corpus", str(tmp_path / "corpus"), "--source-lang", "de", "--target-lang", "en", "--preset", "tiny"]
    argv += ["--layers", "1", "--model-dim", "16", "--heads", "2", "--feedforward-dim", "32", "--max-tokens", "64"]
    argv += ["--max-updates", "2", "--beams", "2", "--strategy", "default", "--seeds", "3,5"]
    translation_example["main"]([*argv, "--output-dir", str(output)])
    _check_summary(output, [3, 5], ("bleu", "bleu_final", "token_accuracy"))


def test_seed_and_seeds_together_are_refused(translation_example, capsys):
    with pytest.raises(SystemExit):
        translation_example["main"](["--mock-data", "8", "--seed", "1", "--seeds", "2"])
    assert "--seed: give --seed (one run) or --seeds (several), not both" in capsys.readouterr().err
