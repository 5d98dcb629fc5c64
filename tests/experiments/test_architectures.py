"""The paper's networks (classification/architectures.py): torchvision's ResNet-50 v1.5 and the official
EfficientNet-B0s, checked by structure and numbers (each model built once, on small inputs)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from keras_losses_experiments.classification import architectures as arch  # noqa: E402


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _layers(model, kind):
    return [layer for layer in model.layers if type(layer) is kind]


@pytest.fixture(scope="module")
def resnet():
    return arch.resnet50_v15(1000, input_shape=(64, 64, 3))


@pytest.fixture(scope="module")
def b0():
    return {
        variant: arch.efficientnet_b0(1000, input_shape=(64, 64, 3), variant=variant)
        for variant in ("paper_cifar", "timm")
    }


def test_resnet50_v15_has_torchvisions_parameter_count(resnet):
    assert _trainable(resnet) == 25_557_032  # sum(p.numel() for p in torchvision.models.resnet50().parameters())
    assert resnet.output_shape == (None, 1000)
    assert resnet.get_layer("avgpool").input.shape[1:3] == (2, 2)  # 64 / 32


def test_resnet50_v15_strides_on_the_3x3_convolution(resnet):
    for stage, blocks in enumerate((3, 4, 6, 3), start=1):
        for block in range(blocks):
            name = f"layer{stage}_{block}"
            strides = 2 if stage > 1 and block == 0 else 1
            assert resnet.get_layer(f"{name}_conv2").strides == (strides, strides)
            assert resnet.get_layer(f"{name}_conv2").kernel_size == (3, 3)
            assert resnet.get_layer(f"{name}_conv1").strides == resnet.get_layer(f"{name}_conv3").strides == (1, 1)
        assert resnet.get_layer(f"layer{stage}_0_downsample_conv").strides == ((2, 2) if stage > 1 else (1, 1))
    assert resnet.get_layer("layer2_0_conv2_pad").padding == ((1, 1), (1, 1))  # PyTorch's symmetric padding=1
    assert resnet.get_layer("conv1_pad").padding == ((3, 3), (3, 3)) and resnet.get_layer("conv1").strides == (2, 2)


def test_resnet50_v15_convolutions_batch_norm_and_init(resnet):
    convolutions = _layers(resnet, keras.layers.Conv2D)
    assert len(convolutions) == 53 and not any(conv.use_bias for conv in convolutions)
    norms = _layers(resnet, keras.layers.BatchNormalization)
    assert len(norms) == 53 and all(bn.epsilon == 1e-5 and bn.momentum == 0.9 for bn in norms)
    assert all(np.all(bn.gamma.numpy() == 1) and np.all(bn.beta.numpy() == 0) for bn in norms)  # no zero-init
    kernel = resnet.get_layer("layer4_0_conv2").kernel.numpy()  # 3x3x512x512: kaiming normal, fan out 9 * 512
    assert abs(kernel.std() - np.sqrt(2 / (9 * 512))) < 0.01 * np.sqrt(2 / (9 * 512))
    assert np.abs(kernel).max() > 4.5 * np.sqrt(2 / (9 * 512))  # untruncated
    fc = resnet.get_layer("fc")
    bound = 1 / np.sqrt(2048)
    for values in (fc.kernel.numpy(), fc.bias.numpy()):
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound


@pytest.fixture(scope="module")
def keras_b0():
    return keras.applications.EfficientNetB0(weights=None, input_shape=(64, 64, 3))  # rates fixed at 0.2, 0.2


def test_efficientnet_b0_matches_keras_structure(b0, keras_b0):
    shapes = [tuple(w.shape) for w in keras_b0.trainable_weights]
    for model in b0.values():
        assert [tuple(w.shape) for w in model.trainable_weights] == shapes
        assert _trainable(model) == 5_288_548  # timm's efficientnet_b0 and the paper's CIFAR model
        norms = _layers(model, keras.layers.BatchNormalization)
        assert len(norms) == 49 and all(bn.epsilon == 1e-5 and bn.momentum == 0.9 for bn in norms)


RESIDUAL_BLOCKS = {"block2b": 2, "block3b": 4, "block4b": 6, "block4c": 7, "block5b": 9, "block5c": 10}
RESIDUAL_BLOCKS |= {"block6b": 12, "block6c": 13, "block6d": 14}  # name: the block's index among the 16


def test_efficientnet_b0_dropout_and_drop_connect(b0, keras_b0):
    for variant, model in b0.items():
        assert model.get_layer("top_dropout").rate == 0.2
        drops = {layer.name.removesuffix("_drop"): layer for layer in _layers(model, keras.layers.Dropout)}
        drops.pop("top_dropout".removesuffix("_drop"))
        assert set(drops) == set(RESIDUAL_BLOCKS)
        for name, layer in drops.items():
            expected = 0.2 if variant == "paper_cifar" else 0.2 * RESIDUAL_BLOCKS[name] / 16
            assert layer.rate == pytest.approx(expected) and layer.noise_shape == (None, 1, 1, 1)
    keras_rates = {layer.name: layer.rate for layer in _layers(keras_b0, keras.layers.Dropout)}
    timm_rates = {layer.name: layer.rate for layer in _layers(b0["timm"], keras.layers.Dropout)}
    assert timm_rates == pytest.approx(keras_rates)
    no_drop = arch.efficientnet_b0(10, input_shape=(32, 32, 3), dropout_rate=0.0, drop_connect_rate=0.0)
    assert not _layers(no_drop, keras.layers.Dropout)


def test_efficientnet_b0_padding_per_variant(b0):
    cifar, timm = b0["paper_cifar"], b0["timm"]
    assert cifar.get_layer("stem_conv_pad").padding == ((0, 1), (0, 1))  # max(3 - 2, 0) = 1 split (0, 1)
    assert cifar.get_layer("block3a_dwconv_pad").padding == ((1, 2), (1, 2))
    assert cifar.get_layer("block5a_dwconv_pad").padding == ((2, 2), (2, 2))
    assert timm.get_layer("stem_conv_pad").padding == ((1, 1), (1, 1))
    assert timm.get_layer("block3a_dwconv_pad").padding == ((2, 2), (2, 2))
    for model in b0.values():
        assert model.get_layer("top_conv").input.shape[1:3] == (2, 2)


def test_efficientnet_b0_depthwise_init_per_variant(b0):
    # block6b: 1152 channels, 5x5 kernels. PyTorch's fan out (paper's CIFAR model) counts the channels; timm's
    # (as TensorFlow's) divides them out by the groups.
    cifar = b0["paper_cifar"].get_layer("block6b_dwconv").kernel.numpy()
    timm = b0["timm"].get_layer("block6b_dwconv").kernel.numpy()
    assert abs(cifar.std() / np.sqrt(2 / (25 * 1152)) - 1) < 0.03
    assert abs(timm.std() / np.sqrt(2 / 25) - 1) < 0.03
    dense = b0["timm"].get_layer("predictions")
    assert np.abs(dense.kernel.numpy()).max() <= 1 / np.sqrt(1000) and not np.any(dense.bias.numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        arch.efficientnet_b0(10, variant="keras")
    with pytest.raises(ValueError, match="drop_connect_rate"):
        arch.efficientnet_b0(10, drop_connect_rate=1.0)
    with pytest.raises(ValueError, match="num_classes"):
        arch.resnet50_v15(0)
