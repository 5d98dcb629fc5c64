"""The papers' experiments as their authors ran them: one preset per headline experiment, `--preset NAME`.

A `PaperPreset` is the value of every flag of a program (`examples/image_classification.py`,
`examples/translation.py`, `keras-losses compare`) that the authors' published script sets, each an `Official`
value with the file and line of the script it comes from (in `REPOSITORY`), the paper's loss and its baseline,
and the seeds the script loops over. A flag given on the command line overrides the preset's value; the run
records which (`overrides`). Where Keras cannot do exactly what the script does, `differences` says what differs
and its expected effect; nothing else differs. `table(preset)` is the documentation's table (docs/papers.md,
`python -m keras_losses_experiments.papers` prints its generated part).

Standard library only: `keras-losses --help` lists the presets without importing Keras.
"""

from dataclasses import dataclass, field

from keras_losses_experiments.errors import ConfigError

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


def presets():
    """Every paper preset, by name."""
    from keras_losses_experiments.papers import zhao2022_translation, zhao2022_vision

    return {preset.name: preset for preset in (*zhao2022_vision.PRESETS, *zhao2022_translation.PRESETS)}


def get(name, program):
    """The preset `name` of `program`; `ConfigError("preset")` for an unknown name or another program's preset."""
    known = presets()
    if name not in known:
        raise ConfigError("preset", f"unknown preset {name!r}; the papers' presets are: {', '.join(known)}")
    preset = known[name]
    if program == "compare" and preset.program == "translation":
        raise ConfigError(
            "preset",
            f"{name} trains on --corpus, which keras-losses compare does not run yet: run "
            f"`python examples/translation.py --preset {name} --corpus DIR` (the paper's loss, seeds 1 to 5, "
            "summary.json) and the same with --loss ce (the baseline)",
        )
    if program not in (preset.program, "compare"):
        raise ConfigError("preset", f"{name} is a preset of examples/{preset.program}.py, not of {program}")
    return preset


def table(preset):
    """The preset's settings as a Markdown table: flag, value, official source."""
    rows = [f"| setting | value | {REPOSITORY.rsplit('/', 1)[-1]}: file and line |", "| --- | --- | --- |"]
    settings = {"loss": preset.loss, "baseline loss": preset.baseline, "seeds": preset.seeds}
    settings |= {f"--{name.replace('_', '-')}": official for name, official in preset.flags.items()}
    for name, official in settings.items():
        value = ", ".join(map(str, official.value)) if isinstance(official.value, tuple) else official.value
        rows.append(f"| {name} | {'off' if value is None else f'`{value}`'} | {official.source} |")
    return "\n".join(rows) + "\n"


def parse(parser, argv, program):
    """`(args, preset or None, overrides)`: `argv` parsed with the preset named by `--preset` (if it names a
    paper preset) as the defaults of its flags; `overrides` are the preset's settings the command line changed
    ({field: value given}). Raises `ConfigError` for an unknown preset, another program's, or a preset setting
    that this program has no flag for."""
    from keras_losses_experiments import flags

    known, _ = parser.parse_known_args(argv)
    name = getattr(known, "preset", None)
    if name is None or name not in presets():
        return parser.parse_args(argv), None, {}
    preset = get(name, program)
    fields = {action.dest for action in parser._actions}
    defaults = preset.defaults(fields)
    missing = sorted(set(defaults) - fields)
    if missing:
        raise ConfigError("preset", f"{name} sets {', '.join(map(flags.option, missing))}, which {program} lacks")
    for field_name, value in defaults.items():
        flags.check_value(field_name, value)
    parser.set_defaults(**defaults)
    args = parser.parse_args(argv)
    overrides = {key: getattr(args, key) for key, value in defaults.items() if getattr(args, key) != value}
    return args, preset, overrides


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


def page():
    """The generated part of docs/papers.md: a section per vision preset (the translation presets have their
    own page, `zhao2022_translation.page()`: docs/papers_translation.md)."""
    return "\n".join(section(p) for p in presets().values() if p.program == "image_classification")


if __name__ == "__main__":
    print(page(), end="")
