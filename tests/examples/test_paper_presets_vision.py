"""The encouraging-loss paper's vision presets, realized on CPU and checked against the official scripts' values:
the optimizer and its hyper-parameters, the learning rate at every epoch against the scripts' own formulas, one
step of weight decay by hand, the input pipelines against the augmentation functions, the networks, the loss,
seeds and smoothing, and (EfficientNet-B0 on ImageNet, one short run) mixed precision and the EMA of the weights
against NumPy. `keras-losses compare --preset` realizes the same configuration. Every value's source names a
file and line of the authors' repository (read where a copy of it is at hand)."""

import bisect
import json
import re
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_losses
from keras_losses_experiments import cli, papers
from keras_losses_experiments.classification import augmentation, datasets, models, vision
from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.papers import zhao2022_vision
from keras_losses_experiments.training.optimizers import make_optimizer
from keras_losses_experiments.training.schedules import make_schedule

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.data pipelines")

PRESETS = {preset.name: preset for preset in zhao2022_vision.PRESETS}
MIRROR = Path("/work/.mirror/lancopku+well-classified-examples-are-underestimated/repo")
PAGE = Path(__file__).resolve().parents[2] / "docs" / "papers.md"
SMALL = ["--image-size", "32", "--mock-data", "8"]


def configured(image_example, name, *extra):
    """The example's `Config` of `--preset name` (and `extra` flags)."""
    parser = image_example["build_parser"]()
    args, preset, overrides = papers.parse(parser, ["--preset", name, *SMALL, *extra], "image_classification")
    return image_example["configure"](args, preset, overrides)


# --- the learning rate of every epoch, as the scripts compute it -------------------------------------------------


def cifar_trainer_rate(base, epoch):
    """cifar/efficientnet/trainer.py:92-95: MultiStepLR([30, 60, 80], 0.1), scheduler.step() before epoch
    `epoch` (0-based) trains: PyTorch's last_epoch is then epoch + 1."""
    return base * 0.1 ** bisect.bisect_right([30, 60, 80], epoch + 1)


def imagenet_resnet_rate(base, epoch):
    """imagenet-resnet50/main.py:500: lr = args.lr * 0.1 ** (epoch // 30) before epoch `epoch` trains."""
    return base * 0.1 ** (epoch // 30)


def timm_step_rate(epoch, lr=0.048, warmup_lr=1e-6, warmup=3, decay_epochs=2.4, rate=0.97):
    """timm 0.4 StepLRScheduler._get_lr(epoch) (t_in_epochs)."""
    if epoch < warmup:
        return warmup_lr + epoch * (lr - warmup_lr) / warmup
    return lr * rate ** (epoch // decay_epochs)


RATE_OF = {
    "zhao2022-cifar10-resnet50": lambda e: cifar_trainer_rate(0.025, e),
    "zhao2022-cifar100-resnet50": lambda e: cifar_trainer_rate(0.025, e),
    "zhao2022-cifar10-efficientnet_b0": lambda e: cifar_trainer_rate(0.0125, e),
    "zhao2022-cifar100-efficientnet_b0": lambda e: cifar_trainer_rate(0.0125, e),
    "zhao2022-imagenet-resnet50": lambda e: imagenet_resnet_rate(0.1, e),
    "zhao2022-imagenet-efficientnet_b0": timm_step_rate,
}


@pytest.mark.parametrize("name", PRESETS)
def test_the_learning_rate_of_every_epoch_is_the_scripts(image_example, name):
    config = configured(image_example, name)
    preset, steps = PRESETS[name], 7
    schedule = make_schedule(config.recipe, steps, preset.flags["batch_size"].value)
    epochs = preset.flags["epochs"].value
    assert config.recipe.epochs == epochs
    for epoch in range(epochs):
        expected = RATE_OF[name](epoch)
        for step in (epoch * steps, epoch * steps + steps - 1):  # constant within the epoch
            assert float(schedule(step)) == pytest.approx(expected, rel=2e-6), (epoch, step)
    if "cifar" in name:  # the trainer's scheduler.step() before training: the rate drops after 29 epochs
        base = preset.flags["learning_rate"].value
        assert [float(schedule(e * steps)) for e in (28, 29, 30)] == pytest.approx([base, base / 10, base / 10])


def test_the_rate_scales_linearly_with_another_global_batch(image_example):
    config = configured(image_example, "zhao2022-cifar10-resnet50", "--batch-size", "4")
    assert config.recipe.peak_learning_rate(4) == pytest.approx(0.025 * 4 / 64)  # readme.sh:1, linear scaling


# --- the optimizer and one step of its weight decay ---------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_the_optimizer_and_one_step_of_weight_decay_by_hand(image_example, name):
    preset = PRESETS[name]
    flags = {key: official.value for key, official in preset.flags.items()}
    optimizer = make_optimizer(configured(image_example, name).recipe, 7, flags["batch_size"])
    expected_class = {
        "pytorch_sgd": keras_losses.optimizers.PyTorchSGD,
        "rmsprop_tf": keras_losses.optimizers.RMSpropTF,
    }
    assert type(optimizer) is expected_class[flags["optimizer"]]
    assert optimizer.momentum == flags["momentum"] and optimizer.weight_decay == flags["weight_decay"]
    assert optimizer.decoupled_decay is False  # PyTorch's L2 into the gradient, every script
    assert optimizer.exclude_1d_from_weight_decay is (not flags["weight_decay_on_1d"])
    kernel, bias = keras.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], "float32")), keras.Variable(np.ones(2, "float32"))
    gradients = [np.full((2, 2), 0.3, "float32"), np.full(2, -0.2, "float32")]
    before = [kernel.numpy().astype("float64"), bias.numpy().astype("float64")]
    optimizer.apply(gradients, [kernel, bias])
    lr, wd, m = RATE_OF[name](0), flags["weight_decay"], flags["momentum"]
    for variable, w, g in zip((kernel, bias), before, gradients):
        decays = variable.shape.rank == 2 or flags["weight_decay_on_1d"]
        g = g + (wd * w if decays else 0.0)
        if flags["optimizer"] == "pytorch_sgd":  # buffer b = g on the first step
            expected = w - lr * (g + m * g if flags["nesterov"] else g)
        else:  # RMSpropTF: s from ones, eps inside the root, lr inside the momentum buffer
            expected = w - lr * g / np.sqrt(0.9 + 0.1 * g**2 + flags["optimizer_epsilon"])
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6, atol=1e-9)


# --- the input pipeline -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["zhao2022-cifar100-efficientnet_b0", "zhao2022-imagenet-resnet50", "zhao2022-imagenet-efficientnet_b0"]
)
def test_the_pipeline_is_the_scripts_transforms(image_example, name):
    preset, config = PRESETS[name], configured(image_example, name)
    flags = {key: official.value for key, official in preset.flags.items()}
    pipeline = config.vision.pipeline
    assert (pipeline.augment, pipeline.normalization) == (flags["augment"], flags["normalization"])
    assert pipeline.randaugment == flags.get("randaugment") and pipeline.random_erasing == flags.get("random_erasing")
    assert (pipeline.train_interpolation, pipeline.test_interpolation) == (
        flags["train_interpolation"],
        flags["test_interpolation"],
    )
    data = datasets.examples(flags["dataset"], 32, 4, pipeline=pipeline)
    assert data.input_shape == (32, 32, 3) and data.pipeline == pipeline
    mean, std = {
        "cifar": (augmentation.CIFAR_MEAN, augmentation.CIFAR_STD),
        "imagenet": (augmentation.IMAGENET_MEAN, augmentation.IMAGENET_STD),
    }[flags["normalization"]]
    import tensorflow as tf

    image, label = next(iter(data.train))
    seed = tf.constant([5, 9], "int64")
    crop, flip, rand, erase = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    expected = augmentation.random_horizontal_flip(
        augmentation.random_resized_crop(image, crop, 32, interpolation=flags["train_interpolation"]), flip
    )
    if "randaugment" in flags:
        expected = augmentation.rand_augment(expected, rand, flags["randaugment"], augmentation.fill_color(mean))
    expected = augmentation.normalize(expected, mean, std)
    if "random_erasing" in flags:
        expected = augmentation.random_erasing(expected, erase, flags["random_erasing"], mode="pixel")
    augmented, same_label = data.augment(image, label, seed)
    np.testing.assert_allclose(augmented.numpy(), expected.numpy(), atol=1e-6)
    assert int(same_label) == int(label)
    # The test transform: Resize(int(32 * 256 / 224) = 36) + CenterCrop(32) + Normalize, the script's interpolation.
    test_image, _ = next(iter(data.test))
    transform = augmentation.eval_transform(36, 32, mean, std, flags["test_interpolation"])
    source = next(iter(_raw_test(flags["dataset"])))
    np.testing.assert_allclose(test_image.numpy(), transform(tf.cast(source, "float32")).numpy(), atol=1e-5)


def _raw_test(dataset):
    """The test split's stored images (mock data of 4 examples), as the pipelines read them."""
    import tensorflow_datasets as tfds

    source = datasets.describe_tfds(dataset)
    with tfds.testing.mock_data(num_examples=4):
        return tfds.load(dataset, split=source.test_split).map(lambda example: example[source.input_key])


# --- the networks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zhao2022-cifar10-resnet50", "zhao2022-cifar10-efficientnet_b0"])
def test_the_network_and_its_rates(image_example, name):
    config = configured(image_example, name)
    model = config.vision.build_model(config.model, (32, 32, 3), 10)
    network = model.layers[1]  # after the input: the pipeline normalises, the model does not
    assert not any(isinstance(layer, keras.layers.Normalization) for layer in model.layers)
    assert model.get_layer("logits").dtype_policy.compute_dtype == "float32"
    if "resnet50" in name:
        trainable = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
        assert network.name == "resnet50_v15" and trainable == 25_557_032 - 2048 * 990 - 990  # torchvision's
        return
    assert network.name == "efficientnet_b0_paper_cifar"
    assert network.get_layer("top_dropout").rate == 0.2  # efficientnet.py:21
    drops = [layer.rate for layer in network.layers if layer.name.endswith("_drop")]
    assert drops and set(drops) == {0.2}  # efficientnet.py:82: every residual block drops with 0.2


# --- one short run of the ImageNet EfficientNet-B0 preset: AMP, smoothing, the loss, the EMA -----------------------


class WeightRecorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps = [self._floats()]

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(self._floats())

    def _floats(self):
        return [keras.ops.convert_to_numpy(w).astype("float64") for w in self.model.weights if "float" in str(w.dtype)]


def test_imagenet_efficientnet_b0_trains_with_amp_smoothing_and_the_ema_of_its_weights(image_example, tmp_path):
    from keras_losses_experiments.training import distribution, harness

    config = configured(
        image_example,
        "zhao2022-imagenet-efficientnet_b0",
        *(
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--warmup-epochs",
            "0",
            "--steps-per-epoch",
            "2",
            "--validation-steps",
            "1",
        ),
        *("--seed", "42", "--strategy", "default", "--output-dir", str(tmp_path)),
    )
    assert config.seeds is None and config.run.seed == 42  # the script's one run: timm's seed (train_el.py:239)
    recorder = WeightRecorder()
    try:
        strategy = harness.set_up(config.run)
        results = image_example["train"](config, strategy, 4, callbacks=[recorder])
    finally:
        distribution.set_mixed_precision(None, None)
    assert results["mixed_precision_policy"] == "mixed_float16"  # readme.sh:13 --amp
    assert results["label_smoothing"] == 0.1 and results["loss"] == "conservative_encouraging:0.75"
    assert results["loss_config"]["log_end"] == 0.75 and results["ema_decay"] == 0.9999
    assert results["model"] == "efficientnet_b0_timm" and results["preset"] == "zhao2022-imagenet-efficientnet_b0"
    assert results["best_epoch"] == 1 and results["best_accuracy"] == results["final_accuracy"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert (
        saved["pipeline"]["randaugment"] == "rand-m9-mstd0.5" and saved["recipe"]["optimizer"]["kind"] == "rmsprop_tf"
    )
    # model.keras holds the moving average: 0.9999 * average + 0.0001 * weights after each of the 2 batches,
    # from the initial weights (timm's ModelEmaV2), batch normalisation's statistics included.
    average = recorder.steps[0]
    for weights in recorder.steps[1:]:
        average = [0.9999 * a + 0.0001 * w for a, w in zip(average, weights)]
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    floats = [keras.ops.convert_to_numpy(w) for w in reloaded.weights if "float" in str(w.dtype)]
    assert len(floats) == len(average) == len(recorder.steps[-1])
    moved = max(float(np.max(np.abs(f - last))) for f, last in zip(floats, recorder.steps[-1]))
    assert moved > 1e-4  # not the trained weights
    for value, expected in zip(floats, average):
        np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7)


# --- the loss, the baseline, the seeds; compare ---------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_the_loss_baseline_seeds_and_smoothing(image_example, name):
    preset = PRESETS[name]
    config = configured(image_example, name)
    assert config.loss.spec(10) == "conservative_encouraging:0.75" == preset.loss.value
    assert config.loss.label_smoothing == preset.flags["label_smoothing"].value
    assert config.seeds == list(preset.seeds.value) and config.overrides == {"image_size": 32}
    assert configured(image_example, name, "--loss", "ce").loss.spec(10) == "ce" == preset.baseline.value
    assert configured(image_example, name, "--seeds", "3").seeds == [0, 1, 2]


@pytest.mark.parametrize("name", PRESETS)
def test_compare_runs_the_same_configuration(image_example, name):
    preset = PRESETS[name]
    _, settings = cli.parse(["compare", "--preset", name, *SMALL])
    assert settings.losses == "ce,conservative_encouraging:0.75" and settings.seed_list == list(preset.seeds.value)
    settings.check()
    example = configured(image_example, name).vision
    assert vision.configure(settings, settings.dataset, settings.model) == example
    assert settings.mixed_precision == preset.flags["mixed_precision"].value


def test_a_flag_that_does_not_apply_is_refused_naming_it(image_example):
    with pytest.raises(ConfigError) as error:
        configured(image_example, "zhao2022-cifar10-resnet50", "--dropout", "0.1")  # ResNet50 has no head dropout
    assert error.value.field == "dropout"
    with pytest.raises(ConfigError) as error:
        vision.configure(
            cli.parse(["compare", "--dataset", "cifar10", "--randaugment", "rand-m9"])[1], "cifar10", "resnet50"
        )
    assert error.value.field == "randaugment"
    assert models.PAPER_NETWORKS == ("resnet50_v1_5", "efficientnet_b0_paper_cifar", "efficientnet_b0_timm")


# --- the sources and the docs ---------------------------------------------------------------------------------------

SOURCE = re.compile(r"^(?P<file>[\w./-]+\.(?:py|sh|yaml)):(?P<line>\d+)$")


def _sources():
    for preset in PRESETS.values():
        for name, official in {"loss": preset.loss, "baseline": preset.baseline, "seeds": preset.seeds}.items():
            yield preset.name, name, official
        for name, official in preset.flags.items():
            yield preset.name, name, official


def test_every_value_names_a_file_and_line_of_the_authors_repository():
    lengths = {}
    for preset, name, official in _sources():
        match = SOURCE.match(official.source)
        assert match, f"{preset} {name}: {official.source!r} is not file:line"
        if not MIRROR.exists():  # CI has no copy of the repository: the format only
            continue
        path = match["file"]
        if path not in lengths:
            shown = subprocess.run(["git", "-C", str(MIRROR), "show", f"HEAD:{path}"], capture_output=True, text=True)
            assert shown.returncode == 0, f"{preset} {name}: {path} is not in the authors' repository"
            lengths[path] = len(shown.stdout.splitlines())
        assert 1 <= int(match["line"]) <= lengths[path], f"{preset} {name}: {official.source} is past the file's end"


def test_the_docs_page_is_the_presets():
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"<!-- presets:begin.*?-->\n(.*?)<!-- presets:end -->", text, re.DOTALL)
    assert block, "docs/papers.md has no presets block"
    assert block.group(1) == papers.page(), "regenerate with: python -m keras_losses_experiments.papers"
    for preset in PRESETS.values():
        assert f"`{preset.name}`" in block.group(1) and "estimate" in block.group(1)
