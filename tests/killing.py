"""Runs a program that trains through `resume.fit` and kills it with SIGKILL (no clean-up of any kind) at a point.

    python tests/killing.py WHEN EPOCH [--batch B] [--run TEXT] [--process I] -- PROGRAM ARGUMENTS...

WHEN: `mid-epoch` (after batch B of epoch EPOCH), `after-backup` (once the backup of epoch EPOCH is saved) or
`writing-backup` (the backup of epoch EPOCH written halfway: its file cut short, not yet renamed). `--run`: only
in the run whose backup folder contains TEXT (`keras-losses compare` trains several). `--process`: only in the
process of that index in its cluster (TF_CONFIG's task, or KERAS_DISTRIBUTION_PROCESS_ID); every process
otherwise. PROGRAM: an example's path, or `-m module` (e.g. `-m keras_losses_experiments.cli compare ...`).
"""

import argparse
import json
import os
import runpy
import signal
import sys


def process_index():
    if "TF_CONFIG" in os.environ:
        return json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    return int(os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", 0))


def kill():
    os.kill(os.getpid(), signal.SIGKILL)


def arm(when, epoch, batch, run):
    from keras_losses_experiments.training import resume

    def here(backup):
        return run is None or run in str(backup.directory)

    if when == "mid-epoch":

        def on_train_batch_end(self, step, logs=None):
            if here(self) and self._epoch == epoch and step == batch:
                kill()

        def on_epoch_begin(self, current, logs=None):
            self._epoch = current

        resume.Backup.on_epoch_begin = on_epoch_begin
        resume.Backup.on_train_batch_end = on_train_batch_end
    elif when == "after-backup":
        save = resume.Backup.on_epoch_end

        def on_epoch_end(self, current, logs=None):
            save(self, current, logs)
            if here(self) and current == epoch:
                kill()

        resume.Backup.on_epoch_end = on_epoch_end
    else:  # writing-backup: the rename that would complete the file never comes
        rename = os.replace

        def replace(source, target):
            if os.path.basename(target) == f"epoch-{epoch + 1}.npz" and (run is None or run in str(target)):
                with open(source, "r+b") as handle:
                    handle.truncate(os.path.getsize(source) // 2)
                kill()
            rename(source, target)

        resume.os.replace = replace


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("when", choices=["mid-epoch", "after-backup", "writing-backup"])
    parser.add_argument("epoch", type=int)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--run")
    parser.add_argument("--process", type=int)
    split = sys.argv.index("--")
    args, program = parser.parse_args(sys.argv[1:split]), sys.argv[split + 1 :]
    if args.process is None or args.process == process_index():
        arm(args.when, args.epoch, args.batch, args.run)
    if program[0] == "-m":
        sys.argv = program[1:]
        runpy.run_module(program[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = program
        runpy.run_path(program[0], run_name="__main__")


if __name__ == "__main__":
    main()
