"""Loads `.keras` files in a fresh process after `import keras_losses` and the translators' embedding layer
(`keras_losses_experiments.translation.embeddings`) and nothing else; one training step each.

    python resume_step.py STEPS.npz OUTPUT.npz PATH...

For the i-th PATH: loads it, records its optimizer's iteration count and class, then, where STEPS.npz has
labels `y{i}`, `train_on_batch` on them and the inputs `x{i}` (or `x{i}_<input name>` for several inputs).
OUTPUT.npz gets `weights{i}` (every weight after the step, if any, flattened), `iterations{i}`,
`loss_scale{i}` (a loss-scale optimizer's scale, else 0), `optimizer{i}`, `skipped` (Keras' warnings about
optimizer variables it could not load) and `experiments_imported` (the modules of `keras_losses_experiments`
loaded, one a line).
"""

import sys
import warnings

import keras
import numpy as np

import keras_losses  # noqa: F401  (the losses, schedules, metrics and optimizers of every saved model)
import keras_losses_experiments.translation.embeddings  # noqa: F401  (the translators' token embeddings)


def resume(steps, index, path):
    model = keras.models.load_model(path)
    iterations = int(model.optimizer.iterations)
    scale = float(model.optimizer.dynamic_scale) if hasattr(model.optimizer, "dynamic_scale") else 0.0
    prefix = f"x{index}_"
    named = {name[len(prefix) :]: steps[name] for name in steps.files if name.startswith(prefix)}
    if f"y{index}" in steps.files:
        model.train_on_batch(named or steps[f"x{index}"], steps[f"y{index}"])
    weights = np.concatenate([np.ravel(np.asarray(w, "float32")) for w in model.get_weights()])
    return {
        f"weights{index}": weights,
        f"iterations{index}": iterations,
        f"loss_scale{index}": scale,
        f"optimizer{index}": type(model.optimizer).__name__,
    }


if __name__ == "__main__":
    steps, output = np.load(sys.argv[1]), {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for index, path in enumerate(sys.argv[3:]):
            output.update(resume(steps, index, path))
    output["skipped"] = "\n".join(str(w.message) for w in caught if "Skipping variable loading" in str(w.message))
    output["experiments_imported"] = "\n".join(
        sorted(
            name for name in sys.modules if name.startswith(("keras_losses.experiments", "keras_losses_experiments"))
        )
    )
    np.savez(sys.argv[2], **output)
