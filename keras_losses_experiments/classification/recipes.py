"""The standard training recipe of each image-classification data set (`RECIPES`; digits' for every other set)."""

from keras_losses_experiments.training.optimizers import SGD, Adam
from keras_losses_experiments.training.recipe import Recipe
from keras_losses_experiments.training.schedules import Constant, Cosine, Step

_SGD_NESTEROV = SGD(0.9, nesterov=True)
_CIFAR = Recipe(
    _SGD_NESTEROV,
    Cosine(),
    0.1,
    128,
    200,
    5e-4,
    scale_learning_rate=True,
    source="cifar-cosine-200: a standard CIFAR ResNet recipe, not the encouraging-loss paper's (docs/papers.md)",
)
RECIPES = {
    "digits": Recipe(Adam(), Constant(), 1e-3, 64, 20, source="a small network on 1,437 images: a minute on a CPU"),
    "cifar10": _CIFAR,
    "cifar100": _CIFAR,
    "imagenet2012": Recipe(
        _SGD_NESTEROV,
        Step(warmup_epochs=5),
        0.1,
        256,
        90,
        1e-4,
        scale_learning_rate=True,
        source="imagenet-goyal-step-90: Goyal et al. 2017 (their warm-up starts at 0.1, ours at 0)",
    ),
}
DEFAULT_RECIPE = "digits"  # the recipe of data sets without their own: Adam 1e-3, batch 64, 20 epochs


def recipe_for(dataset):
    """The recipe of `dataset`: its own, or digits' for a data set without one."""
    return RECIPES.get(dataset, RECIPES[DEFAULT_RECIPE])
