"""The output directory of `keras-losses compare`, the record that makes a comparison resumable.

    comparison.json                      the settings every run shares (a different command is refused)
    runs/<loss>/seed-<n>/epochs.jsonl    one line per finished epoch: its logs and seconds
    runs/<loss>/seed-<n>/backup/         the run's whole state after each epoch while it trains (`resume`)
    runs/<loss>/seed-<n>/result.json     written once the run is evaluated: the run is finished
    runs/<loss>/seed-<n>/true_class_probabilities.npy
    vocabulary/                          translation sets: the tokenizers' vocabularies (retrained with --overwrite)

The files of a finished run are written before `result.json`, which is written atomically (a rename), so a
run is either finished and complete or resumed from its last epoch.
"""

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_losses_experiments.errors import ConfigError

SETTINGS_FILE = "comparison.json"
#: Everything the comparison writes at the top of the output directory (what --overwrite removes).
OUTPUTS = (
    SETTINGS_FILE,
    "runs",
    "results.json",
    "runs.csv",
    "summary.csv",
    "verdicts.csv",
    "report.md",
    "comparison.png",
)


@dataclass
class Run:
    """One finished (loss, seed) run."""

    loss: str
    seed: int
    metrics: dict
    accuracy_per_epoch: list
    true_class_probabilities: np.ndarray = field(repr=False)


class RunStore:
    def __init__(self, path):
        self.path = Path(path)

    def check(self, settings, overwrite=False):
        """Raises `ConfigError` if the directory holds a comparison with other `settings` (a dict)."""
        saved = self.path / SETTINGS_FILE
        if overwrite or not saved.exists():
            return
        before = json.loads(saved.read_text())
        changed = [
            f"{_SHOWN.get(k, k)} {_show(settings.get(k))} (there: {_show(before.get(k))})"
            for k in sorted(set(before) | set(settings))
            if before.get(k) != settings.get(k)
        ]
        if changed:
            raise ConfigError(
                "output_dir",
                f"{self.path} holds a comparison with other settings: {'; '.join(changed)}. Overwrite it "
                "(overwrite=True, --overwrite), or choose another output directory",
            )

    def start(self, settings, overwrite=False):
        """Clears the comparison's outputs when `overwrite`; records `settings`."""
        self.check(settings, overwrite)
        if overwrite:
            for name in OUTPUTS:
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.path / SETTINGS_FILE, json.dumps(settings, indent=2, sort_keys=True) + "\n")

    def folder(self, loss, seed):
        return self.path / "runs" / re.sub(r"[^A-Za-z0-9_.-]+", "-", loss) / f"seed-{seed}"

    def finished(self, loss, seed):
        return (self.folder(loss, seed) / "result.json").exists()

    def epochs(self, loss, seed):
        """The logs of each finished epoch, in order (the last line of an epoch trained again wins)."""
        path = self.folder(loss, seed) / "epochs.jsonl"
        if not path.exists():
            return []
        by_epoch = {}
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            by_epoch[entry["epoch"]] = entry
        return [by_epoch[epoch] for epoch in sorted(by_epoch)]

    def save(self, loss, seed, metrics, accuracy_per_epoch, true_class_probabilities):
        folder = self.folder(loss, seed)
        np.save(folder / "true_class_probabilities.npy", np.asarray(true_class_probabilities, np.float32))
        result = {"loss": loss, "seed": seed, "metrics": metrics, "accuracy_per_epoch": accuracy_per_epoch}
        _write_atomically(folder / "result.json", json.dumps(result, indent=2) + "\n")
        shutil.rmtree(folder / "backup", ignore_errors=True)

    def discard(self, loss, seed):
        """Removes the folder of a run (a scratch store's, once the chief has saved the run)."""
        shutil.rmtree(self.folder(loss, seed), ignore_errors=True)

    def remove(self):
        """Removes the whole store (a scratch store, once the comparison is finished), and its parent folder
        if that is left empty."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self.path.parent.exists() and not any(self.path.parent.iterdir()):
            self.path.parent.rmdir()

    def load(self, losses, seeds):
        """The finished runs of `losses` x `seeds` (a list), in that order."""
        runs = []
        for loss in losses:
            for seed in seeds:
                folder = self.folder(loss, seed)
                result = json.loads((folder / "result.json").read_text())
                probabilities = np.load(folder / "true_class_probabilities.npy")
                runs.append(Run(loss, seed, result["metrics"], result["accuracy_per_epoch"], probabilities))
        return runs


def _write_atomically(path, text):
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


#: How a setting of the identity is named where its key alone would not say it.
_SHOWN = {"data_fingerprint": "data (its contents)", "keras_backend": "KERAS_BACKEND"}


def _show(value):
    return "(default)" if value is None else repr(value)
