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

from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.papers import zhao2022_translation, zhao2022_vision
from keras_losses_experiments.papers.preset import PROGRAMS, REPOSITORY, Official, PaperPreset, section, table

__all__ = ["PROGRAMS", "REPOSITORY", "Official", "PaperPreset", "get", "page", "parse", "presets", "section", "table"]


def presets():
    """Every paper preset, by name."""
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


def page():
    """The generated part of docs/papers.md: a section per vision preset (the translation presets have their
    own page, `zhao2022_translation.page()`: docs/papers_translation.md)."""
    return "\n".join(section(p) for p in presets().values() if p.program == "image_classification")


if __name__ == "__main__":
    print(page(), end="")
