"""The `keras-losses` console script, outside the `keras_losses` package on purpose.

Importing the package imports Keras, and with it TensorFlow: several seconds before `--help` or an argument
error could answer. The script registers the package without running its `__init__`, so `keras_losses_experiments.cli`
and the light modules it needs import in a fraction of a second, and `keras_losses_experiments.cli.main` runs the
`__init__` (under the TensorFlow log filter of `keras_losses_experiments.training.quiet`) once the arguments are valid.
"""

import importlib.util
import sys


def main(argv=None):
    if "keras_losses" in sys.modules:  # imported already (a test, an interactive session)
        from keras_losses_experiments import cli

        return cli.main(argv)
    spec = importlib.util.find_spec("keras_losses")
    package = importlib.util.module_from_spec(spec)
    sys.modules["keras_losses"] = package
    from keras_losses_experiments import cli

    return cli.main(argv, finish_import=lambda: spec.loader.exec_module(package))


if __name__ == "__main__":
    sys.exit(main())
