"""The errors of keras_losses_experiments: one hierarchy, raised by the layer that finds the problem.

Lower layers (data, storage, recipes, strategies) name the setting by its field (`ConfigError.field`, e.g.
`"batch_size"`), never by a command-line flag; the command line maps fields to its flags (`flags.option`).
"""


class ExperimentError(Exception):
    """Something the experiments were given, or met while training, that stops them; the message says what."""


class ConfigError(ExperimentError, ValueError):
    """A setting that is out of range or does not apply.

    Attributes:
        field: the setting, as named in Python (`Settings`, `Recipe`, a preset): "epochs", "batch_size", ...
        problem: what is wrong and what is accepted, without the setting's name.
    """

    def __init__(self, field, problem):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


class DataError(ExperimentError, ValueError):
    """Data that cannot be used as given; the message names the file (or data set) and the problem.

    Attributes:
        field: the setting the problem is about, where one is (`"test_fraction"`: the data has its own test
            split), else None; the command line names its flag.
    """

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class LostProcess(ExperimentError, RuntimeError):
    """A process of the cluster stopped (killed, preempted) while the others waited for it in a collective."""
