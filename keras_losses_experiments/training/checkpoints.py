"""Epoch checkpoints, the best one by a validation metric, the final one, and the average of the last N.

- fairseq (`checkpoint_utils.save_checkpoint`) writes `checkpoint{epoch}.pt` at the end of every epoch,
  `checkpoint_best.pt` whenever the validation metric is at least as good as the best so far (`a >= b` with
  `--maximize-best-checkpoint-metric`: a tie goes to the later epoch) and `checkpoint_last.pt`;
  `scripts/average_checkpoints.py --num-epoch-checkpoints N` averages the `state_dict` (parameters and
  buffers) of the last N epoch checkpoints element by element and keeps the newest one's other state
  (optimizer, counters). The IWSLT recipes report both the average of the last 10 and the best by BLEU.
- timm's `CheckpointSaver` keeps `model_best` by the validation top-1 accuracy (strictly better: a tie keeps
  the earlier epoch), computed on the EMA weights when there are some; the CIFAR scripts report the best
  epoch's accuracy.

`EpochCheckpoints` writes `epoch_0001.weights.h5`, ... (epochs counted from 1, as fairseq's file names),
`best.weights.h5` and, when training ends, `last.weights.h5`, and keeps the monitored value of every epoch
in `checkpoints.json` (so that a resumed run goes on with the same best). `average_epoch_checkpoints` sets
a model's weights to the mean of the last N epoch files. Keras' `.weights.h5` holds the model's variables
and the optimizer's.
"""

import json
import math
import os
import re
import shutil

import keras
from keras import ops

_EPOCH_FILE = re.compile(r"epoch_(\d+)\.weights\.h5")
_RECORD = "checkpoints.json"


def epoch_checkpoint_path(directory, epoch):
    """The file of `epoch` (counted from 1)."""
    return os.path.join(directory, f"epoch_{epoch:04d}.weights.h5")


class EpochCheckpoints(keras.callbacks.Callback):
    """Saves the weights after every epoch, the best epoch's by `monitor`, and the final ones.

    Args:
        directory: where the files go (created if missing).
        monitor: the key of the logs to choose the best epoch by (`"val_accuracy"`, `"val_bleu"`: a callback
            that adds it must come before this one), or None (no best checkpoint).
        mode: `"max"` (accuracy, BLEU) or `"min"` (a loss).
        replace_on_tie: bool. True: an epoch as good as the best becomes the best (fairseq); False: only a
            strictly better one (timm, Keras' `ModelCheckpoint`). Defaults to False.
        keep_last: integer >= 1 or None: how many epoch files to keep (fairseq's `--keep-last-epochs`), the
            older ones deleted. Defaults to None (all).
        ema: an `ExponentialMovingAverage` callback or None; if given, every file holds the averaged weights
            (the monitored value is then the EMA weights' too, as their validation uses them).

    Raises:
        ValueError: at the end of an epoch whose logs lack `monitor`, naming the keys they have.
    """

    def __init__(self, directory, monitor=None, mode="max", replace_on_tie=False, keep_last=None, ema=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` must be 'max' or 'min'. Received: mode={mode!r}")
        if not isinstance(replace_on_tie, bool):
            raise ValueError(f"`replace_on_tie` must be True or False. Received: replace_on_tie={replace_on_tie!r}")
        if keep_last is not None and (not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 1):
            raise ValueError(f"`keep_last` must be None or an integer >= 1. Received: keep_last={keep_last!r}")
        self.directory, self.monitor, self.mode = str(directory), monitor, mode
        self.replace_on_tie, self.keep_last, self.ema = replace_on_tie, keep_last, ema
        os.makedirs(self.directory, exist_ok=True)
        self.values = {}  # epoch (from 1) -> the monitored value
        self.best_epoch = None
        record = os.path.join(self.directory, _RECORD)
        if os.path.exists(record):
            with open(record, encoding="utf-8") as f:
                saved = json.load(f)
            if (saved["monitor"], saved["mode"]) != (monitor, mode):
                raise ValueError(
                    f"{record} chose the best epoch by {saved['monitor']!r} ({saved['mode']}); this run asks for "
                    f"monitor={monitor!r}, mode={mode!r}. Use another directory."
                )
            self.values = {int(epoch): value for epoch, value in saved["values"].items()}
            self.best_epoch = saved["best_epoch"]

    def _better(self, value, best):
        if self.mode == "min":
            value, best = -value, -best
        return value > best or (self.replace_on_tie and value == best)

    def _save(self, path):
        if self.ema is None:
            self.model.save_weights(path)
            return
        with self.ema.swapped_in():
            self.model.save_weights(path)

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        path = epoch_checkpoint_path(self.directory, epoch)
        self._save(path)
        if self.monitor is not None:
            logs = logs or {}
            if self.monitor not in logs:
                raise ValueError(
                    f"The logs of epoch {epoch} have no {self.monitor!r} to choose the best checkpoint by "
                    f"(a callback that adds it must come before EpochCheckpoints). They have: {sorted(logs)}"
                )
            value = float(logs[self.monitor])
            self.values[epoch] = value
            if not math.isnan(value) and (self.best_epoch is None or self._better(value, self.values[self.best_epoch])):
                self.best_epoch = epoch
                shutil.copyfile(path, os.path.join(self.directory, "best.weights.h5"))
        self._write_record()
        if self.keep_last is not None:
            for old in epoch_checkpoints(self.directory)[: -self.keep_last]:
                os.remove(old)

    def on_train_end(self, logs=None):
        self._save(os.path.join(self.directory, "last.weights.h5"))

    def _write_record(self):
        record = {"monitor": self.monitor, "mode": self.mode, "best_epoch": self.best_epoch, "values": self.values}
        with open(os.path.join(self.directory, _RECORD), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)

    def report(self):
        """The best epoch and the final one with their monitored values (None without a monitor)."""
        final = max(self.values) if self.values else None
        return {
            "monitor": self.monitor,
            "best_epoch": self.best_epoch,
            "best_value": None if self.best_epoch is None else self.values[self.best_epoch],
            "final_epoch": final,
            "final_value": None if final is None else self.values[final],
        }


def epoch_checkpoints(directory):
    """The epoch files in `directory`, oldest first."""
    found = [(int(m.group(1)), name) for name in os.listdir(directory) if (m := _EPOCH_FILE.fullmatch(name))]
    return [os.path.join(directory, name) for _, name in sorted(found)]


def average_epoch_checkpoints(model, directory, count):
    """Sets `model`'s weights to the element-wise mean of the last `count` epoch checkpoints in `directory`
    (fairseq's `average_checkpoints.py --num-epoch-checkpoints count`).

    Every weight of `model.weights` is averaged, batch normalisation's moving statistics included (fairseq
    averages the buffers of the `state_dict` too), in float64, then cast back. The rest of the model's state
    is the newest checkpoint's: the optimizer's variables and the seed generators (fairseq keeps the newest
    checkpoint's optimizer state and counters beside the averaged model).

    Args:
        model: a built model of the checkpoints' architecture; its weights are replaced.
        directory: where `EpochCheckpoints` wrote them.
        count: integer >= 1, how many of the last epochs to average.

    Returns:
        The paths averaged, oldest first.

    Raises:
        ValueError: where fewer than `count` epoch checkpoints exist.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"`count` must be an integer >= 1. Received: count={count!r}")
    paths = epoch_checkpoints(directory)[-count:]
    if len(paths) < count:
        raise ValueError(f"Averaging the last {count} epoch checkpoints needs {count}; {directory} has {len(paths)}.")
    if getattr(model, "optimizer", None) is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)  # else Keras skips the saved optimizer state
    total = None
    for path in paths:  # the newest last: its optimizer state is the one that stays
        model.load_weights(path)
        values = [ops.convert_to_numpy(w).astype("float64") for w in model.weights]
        total = values if total is None else [t + v for t, v in zip(total, values)]
    for weight, summed in zip(model.weights, total):
        weight.assign((summed / count).astype(weight.dtype))
    return paths
