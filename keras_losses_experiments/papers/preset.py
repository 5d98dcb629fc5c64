"""A paper preset's types and its documentation: `Official` values, the `PaperPreset`, its table and section.

Standard library only (the command line lists the presets without importing Keras).
"""

from dataclasses import dataclass, field

REPOSITORY = "https://github.com/lancopku/well-classified-examples-are-underestimated"
PROGRAMS = ("image_classification", "translation")


@dataclass(frozen=True)
class Official:
    """A setting's value as the authors' script gives it, and where: `"cifar/readme.sh:15"` (a file and line
    of `REPOSITORY`, or of the library the script runs, named with its version: `"timm 0.4.12 train.py:153"`)."""

    value: object
    source: str


@dataclass(frozen=True)
class PaperPreset:
    """One headline experiment of a paper, as its authors' script runs it."""

    name: str  # the --preset value: "zhao2022-cifar10-resnet50"
    program: str  # one of PROGRAMS
    title: str  # "CIFAR-10, ResNet50 (Zhao et al. 2022)"
    loss: Official  # the paper's loss, a loss specification: "conservative_encouraging:0.75"
    baseline: Official  # the loss it is compared with: "ce"
    seeds: Official  # the seeds the script loops over: (1, 2, 3, 4, 5)
    flags: dict = field(default_factory=dict)  # field of flags.FLAGS -> Official
    #: (what differs from the script, its expected effect): only where Keras cannot be exact.
    differences: tuple = ()
    #: How long the preset takes on one and on eight GPUs: an ESTIMATE, with what it is estimated from.
    time_estimate: str = ""

    def defaults(self, fields=()):
        """{field: value} of every flag the preset sets, with `seeds` and `losses` (the baseline and the paper's
        loss, `keras-losses compare`'s) where `fields` (the program's flags) has them."""
        values = {name: official.value for name, official in self.flags.items()}
        if "seeds" in fields:
            values["seeds"] = self.seeds.value
        if "losses" in fields:
            values["losses"] = f"{self.baseline.value},{self.loss.value}"
        return values


def table(preset):
    """The preset's settings as a Markdown table: flag, value, official source."""
    rows = [f"| setting | value | {REPOSITORY.rsplit('/', 1)[-1]}: file and line |", "| --- | --- | --- |"]
    settings = {"loss": preset.loss, "baseline loss": preset.baseline, "seeds": preset.seeds}
    settings |= {f"--{name.replace('_', '-')}": official for name, official in preset.flags.items()}
    for name, official in settings.items():
        value = ", ".join(map(str, official.value)) if isinstance(official.value, tuple) else official.value
        rows.append(f"| {name} | {'off' if value is None else f'`{value}`'} | {official.source} |")
    return "\n".join(rows) + "\n"


PROGRAM_COMMANDS = {
    "image_classification": "python examples/image_classification.py",
    "translation": "python examples/translation.py",
}


def section(preset):
    """The docs' section of one preset: how to run it, its settings, what differs, how long it takes."""
    command = PROGRAM_COMMANDS[preset.program]
    lines = [
        f"## `{preset.name}`: {preset.title}",
        "",
        f"    {command} --preset {preset.name}               # the paper's loss, its seeds",
        f"    {command} --preset {preset.name} --loss {preset.baseline.value.partition(':')[0]}  # the baseline",
        f"    keras-losses compare --preset {preset.name}                        # both, paired by seed",
        "",
        table(preset),
    ]
    if preset.differences:
        lines += ["What differs from the script, and its expected effect:", ""]
        lines += ["| differs | expected effect |", "| --- | --- |"]
        lines += [f"| {what} | {effect} |" for what, effect in preset.differences]
        lines.append("")
    if preset.time_estimate:
        lines += [f"Time (estimate, not measured): {preset.time_estimate}", ""]
    return "\n".join(lines)
