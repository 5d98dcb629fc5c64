"""The recipe tables of docs/examples.md (Markdown), generated from the recipes and the translation presets:
`python -m keras_losses_experiments.recipe_tables` prints them (tests/examples/test_recipes.py compares)."""

from keras_losses_experiments.classification.recipes import RECIPES
from keras_losses_experiments.translation.presets import DEFAULT_PRESET, PRESETS


def recipe_table():
    """The recipe table and the translation presets' table, in Markdown."""
    rows = [
        "| recipe | optimizer | peak learning rate | schedule | weight decay | global batch | epochs | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    named = [(f"`{name}`", recipe, False) for name, recipe in RECIPES.items()]
    named += [
        (f"translation, `--preset {name}`", preset.recipe, preset.learning_rate_from_model_dim)
        for name, preset in PRESETS.items()
    ]
    for name, recipe, from_model_dim in named:
        rate = f"{recipe.learning_rate:.3g}" + (f" × batch / {recipe.batch_size}" if recipe.scale_learning_rate else "")
        rate = f"(d_model · warm-up)^-0.5 = {rate}" if from_model_dim else rate
        rows.append(
            f"| {name} | {recipe.optimizer.describe()} | {rate} | {recipe.schedule.describe(recipe.epochs)} "
            f"| {recipe.weight_decay:g} | {recipe.batch_size} | {recipe.epochs} | {recipe.source} |"
        )
    header = (
        "| translation preset | layers (encoder + decoder) | d_model | heads | feed-forward | dropout | loss "
        "| label smoothing | beam | default for | what it is |"
    )
    rows += ["", header, "| --- |" + " --- |" * 10]
    for name, preset in PRESETS.items():
        default_for = ", ".join(f"`{d}`" for d, p in DEFAULT_PRESET.items() if p == name) or "-"
        rows.append(
            f"| `{name}` | {preset.layers} + {preset.layers} | {preset.model_dim} | {preset.heads} "
            f"| {preset.feedforward_dim} | {preset.dropout:g} | `{preset.loss}` | {preset.label_smoothing:g} "
            f"| {preset.beams} | {default_for} | {preset.source} |"
        )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(recipe_table(), end="")
