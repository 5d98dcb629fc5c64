"""Runs of the example programs shared by several tests: each trains once per session, in this process."""

import pytest

from tests.examples.example_runs import (
    IMAGE_SCRIPT,
    SMALL_IMAGE_RUN,
    TINY_IMAGE_RUN,
    TINY_TRANSLATION_RUN,
    TRANSLATION_SCRIPT,
    load_example,
)


@pytest.fixture(scope="session")
def image_example():
    return load_example(IMAGE_SCRIPT)


@pytest.fixture(scope="session")
def translation_example():
    return load_example(TRANSLATION_SCRIPT)


@pytest.fixture(scope="session")
def image_run(image_example, tmp_path_factory):
    """The tiny image run on one device (default strategy), in this process: its output directory."""
    from tensorflow.python.framework import config

    output = tmp_path_factory.mktemp("image-run")
    try:
        image_example["main"](
            [*TINY_IMAGE_RUN, "--batch-size", "4", "--strategy", "default", "--output-dir", str(output)]
        )
    finally:
        config.disable_op_determinism()  # --deterministic is for this run only, not for the rest of the session
    return output


@pytest.fixture(scope="session")
def translation_run(translation_example, tmp_path_factory):
    """The tiny translation run on one device, in this process: its output directory."""
    output = tmp_path_factory.mktemp("translation-run")
    translation_example["main"](
        [*TINY_TRANSLATION_RUN, "--batch-size", "4", "--strategy", "default", "--output-dir", str(output)]
    )
    return output


@pytest.fixture(scope="session")
def mixed_precision_run(image_example, tmp_path_factory):
    """EfficientNet-B0 on the ImageNet pipeline and recipe (warm-up shortened to the run: one step) under
    mixed_float16, in this process: its output directory."""
    import keras

    output = tmp_path_factory.mktemp("mixed-precision-run")
    try:
        image_example["main"](
            [
                "--dataset",
                "imagenet2012",
                "--model",
                "efficientnet_b0",
                "--loss",
                "square",
                *SMALL_IMAGE_RUN,
                "--warmup-epochs",
                "0.5",
                "--mixed-precision",
                "--strategy",
                "default",
                "--output-dir",
                str(output),
            ]
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return output
