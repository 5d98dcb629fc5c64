"""The vision experiments of Zhao et al. 2022 (*Well-Classified Examples are Underestimated in Classification
with Deep Neural Networks*, AAAI 2022) as the authors' scripts run them, for `examples/image_classification.py`.

Every value names the file and line of `lancopku/well-classified-examples-are-underestimated` it comes from
(checked against the repository by tests/examples/test_paper_presets_vision.py where a copy is at hand). The
paper's loss is the conservative encouraging loss (`--bonus_gamma -1 --log_end 0.75 --bonus_rho 1`), the
baseline cross-entropy (`--bonus_gamma 0`: no bonus).
"""

from keras_losses_experiments.papers.preset import Official, PaperPreset

_RESAMPLING = (
    "resampling: TensorFlow's antialiased resize in float, not PIL's fixed-point kernels",
    "pixel values within 1 grey level of PIL's (exact up to rounding when upsampling CIFAR's 32 px to 224): none "
    "measurable",
)
_BATCH_NORM = (
    "batch normalisation updates its running variance with the biased batch variance (Keras), PyTorch with the "
    "unbiased one",
    "a factor n / (n - 1), n >= 32 x 49 values per channel: under 3 % in the first updates, none at convergence",
)
_RANDOMNESS = (
    "the random streams: initial weights, data order and augmentation draws come from TensorFlow's seeded "
    "generators, not PyTorch's; cuDNN's nondeterministic kernels differ too",
    "other runs for the same seed number: results vary by about the spread over the seeds, without a bias",
)
_LAST_BATCH = (
    "the last partial batch of each epoch is dropped (a whole global batch per step); PyTorch's DataLoader "
    "trains on it (drop_last=False)",
    "CIFAR at batch 64: 16 of 50,000 images a step fewer per epoch (32 at batch 32; ImageNet: 1,167 of "
    "1,281,167): negligible",
)


# The time estimates: images per second of PyTorch's (NVIDIA DeepLearningExamples-style) training on A100-class GPUs,
# rough figures, not measured here; Keras on TensorFlow may be slower or faster. Runs of a preset are independent:
# eight GPUs train eight (loss, seed) runs at once, or one run data-parallel.
_CIFAR_TIME = (
    "{images} training images at 224 px per run (50,000 x 90 epochs) plus the test set every epoch; at about 800 "
    "images/s on one A100-class GPU (fp32) about {hours} per run, {total} for the 10 runs (2 losses x 5 seeds) "
    "on one GPU, about {eight} on eight (one run per GPU)."
)


def _cifar(dataset, model):
    """A CIFAR preset: `cifar/readme.sh`, `cifar/configs/<dataset>.yaml`, `cifar/train.py` and its trainer."""
    yaml = f"cifar/configs/{dataset}.yaml"
    loader = 14 if dataset == "cifar10" else 39  # the train transform's first line in datasets/cifar.py
    resnet = model == "resnet50"
    rs = 0 if resnet else 32  # readme.sh: the EfficientNet loops are 32 lines below the ResNet50 ones
    flags = {
        "dataset": Official(dataset, f"cifar/readme.sh:{9 + rs}"),
        "model": Official(
            "resnet50_v1_5" if resnet else "efficientnet_b0_paper_cifar",
            "cifar/train.py:106" if resnet else f"{yaml}:7",
        ),
        "epochs": Official(90, f"{yaml}:3"),
        "batch_size": Official(64, "cifar/readme.sh:15") if resnet else Official(32, "cifar/train.py:33"),
        "learning_rate": Official(0.025, "cifar/readme.sh:15") if resnet else Official(0.0125, "cifar/train.py:32"),
        "optimizer": Official("pytorch_sgd", "cifar/efficientnet/optim/__init__.py:6"),
        "momentum": Official(0.9, f"{yaml}:21"),
        "nesterov": Official(True, f"{yaml}:22"),
        "weight_decay": Official(1e-4, f"{yaml}:20"),
        "weight_decay_mode": Official("l2", "cifar/efficientnet/optim/__init__.py:6"),
        "weight_decay_on_1d": Official(True, "cifar/train.py:121"),
        "schedule": Official("multistep", f"{yaml}:25"),
        "milestones": Official((30, 60, 80), f"{yaml}:26"),
        "decay_rate": Official(0.1, f"{yaml}:27"),
        "schedule_step_at": Official("epoch_start", "cifar/efficientnet/trainer.py:95"),
        "warmup_epochs": Official(0.0, "cifar/efficientnet/trainer.py:95"),
        "augment": Official("resized_crop", f"cifar/efficientnet/datasets/cifar.py:{loader}"),
        "train_interpolation": Official("bilinear", f"cifar/efficientnet/datasets/cifar.py:{loader}"),
        "test_interpolation": Official("bilinear", f"cifar/efficientnet/datasets/cifar.py:{loader + 7}"),
        "normalization": Official("cifar", f"cifar/efficientnet/datasets/cifar.py:{loader - 4}"),
        "image_size": Official(224, f"{yaml}:14"),
        "label_smoothing": Official(0.0, "cifar/train.py:62"),
        "mixed_precision": Official(None, "cifar/train.py:53"),
    }
    if not resnet:
        flags["dropout"] = Official(0.2, "cifar/efficientnet/models/efficientnet.py:21")
        flags["drop_connect"] = Official(0.2, "cifar/efficientnet/models/efficientnet.py:82")
    title = "ResNet50 (torchvision's v1.5)" if resnet else "EfficientNet-B0 (the paper's CIFAR model)"
    return PaperPreset(
        name=f"zhao2022-{dataset}-{'resnet50' if resnet else 'efficientnet_b0'}",
        program="image_classification",
        title=f"{dataset.upper().replace('CIFAR', 'CIFAR-')}, {title}, upsampled to 224 px (Zhao et al. 2022)",
        loss=Official("conservative_encouraging:0.75", "cifar/readme.sh:21" if resnet else "cifar/readme.sh:55"),
        baseline=Official("ce", f"cifar/readme.sh:{6 + rs}"),
        seeds=Official((1, 2, 3, 4, 5), f"cifar/readme.sh:{11 + rs}"),
        flags=flags,
        time_estimate=_CIFAR_TIME.format(
            images="4.5 million",
            hours="2 h" if resnet else "2.5 h",
            total="20 h" if resnet else "25 h",
            eight="5 h (two rounds)" if resnet else "6 h (two rounds)",
        ),
        differences=(
            _RESAMPLING,
            _BATCH_NORM,
            _RANDOMNESS,
            _LAST_BATCH,
            (
                "the script sets no seed (the loop's t = 1..5 only names the runs); each of ours is seeded",
                "none on the expected result: five independent runs either way",
            ),
        ),
    )


_RESNET = "imagenet-resnet50/main.py"
_B0 = "imagenet-efficientnetb0/readme.sh"
_TIMM = "imagenet-efficientnetb0/train_el.py"

IMAGENET_RESNET50 = PaperPreset(
    name="zhao2022-imagenet-resnet50",
    program="image_classification",
    title="ImageNet, ResNet50 (torchvision's v1.5) (Zhao et al. 2022)",
    loss=Official("conservative_encouraging:0.75", "imagenet-resnet50/readme.sh:17"),
    baseline=Official("ce", "imagenet-resnet50/readme.sh:6"),
    seeds=Official((1, 2, 3, 4, 5), "imagenet-resnet50/readme.sh:8"),
    time_estimate="115 million training images per run (1,281,167 x 90 epochs); at about 800 images/s on one "
    "A100-class GPU (fp32) about 40 h per run, 17 days for the 10 runs (2 losses x 5 seeds); on eight GPUs "
    "data-parallel (about 6,000 images/s) about 5.5 h per run, 2.5 days for the 10.",
    flags={
        "dataset": Official("imagenet2012", "imagenet-resnet50/readme.sh:12"),
        "model": Official("resnet50_v1_5", f"{_RESNET}:178"),
        "epochs": Official(90, f"{_RESNET}:37"),
        "batch_size": Official(256, f"{_RESNET}:41"),
        "learning_rate": Official(0.1, f"{_RESNET}:46"),
        "optimizer": Official("pytorch_sgd", f"{_RESNET}:216"),
        "momentum": Official(0.9, f"{_RESNET}:48"),
        "nesterov": Official(False, f"{_RESNET}:216"),
        "weight_decay": Official(1e-4, f"{_RESNET}:50"),
        "weight_decay_mode": Official("l2", f"{_RESNET}:216"),
        "weight_decay_on_1d": Official(True, f"{_RESNET}:216"),
        "schedule": Official("multistep", f"{_RESNET}:500"),
        "milestones": Official((30, 60), f"{_RESNET}:79"),
        "decay_rate": Official(0.1, f"{_RESNET}:500"),
        "schedule_step_at": Official("epoch_end", f"{_RESNET}:288"),
        "warmup_epochs": Official(0.0, f"{_RESNET}:500"),
        "augment": Official("resized_crop", f"{_RESNET}:254"),
        "train_interpolation": Official("bilinear", f"{_RESNET}:254"),
        "test_interpolation": Official("bilinear", f"{_RESNET}:271"),
        "normalization": Official("imagenet", f"{_RESNET}:248"),
        "image_size": Official(224, f"{_RESNET}:254"),
        "label_smoothing": Official(0.0, f"{_RESNET}:91"),
        "mixed_precision": Official(None, f"{_RESNET}:361"),
    },
    differences=(
        _RESAMPLING,
        _BATCH_NORM,
        _RANDOMNESS,
        _LAST_BATCH,
        (
            "the script trains on 2 GPUs of 128 images (imagenet-resnet50/readme.sh:5, main.py:192): batch "
            "normalisation sees 128 images; on one device ours sees 256 (--strategy mirrored on 2 GPUs: 128)",
            "slightly less noisy batch statistics on one device: within the spread over seeds",
        ),
    ),
)

IMAGENET_EFFICIENTNET_B0 = PaperPreset(
    name="zhao2022-imagenet-efficientnet_b0",
    program="image_classification",
    title="ImageNet, EfficientNet-B0 (timm's recipe) (Zhao et al. 2022)",
    loss=Official("conservative_encouraging:0.75", f"{_B0}:18"),
    baseline=Official("ce", f"{_B0}:7"),
    seeds=Official((42,), f"{_TIMM}:239"),
    time_estimate="577 million training images per run (1,281,167 x 450 epochs); at about 1,800 images/s on one "
    "A100-class GPU (float16) about 90 h (4 days) per run, 8 days for the 2 runs (baseline and paper's loss, one "
    "seed as the script runs); on eight GPUs data-parallel (about 12,000 images/s) about 14 h per run.",
    flags={
        "dataset": Official("imagenet2012", f"{_B0}:11"),
        "model": Official("efficientnet_b0_timm", f"{_B0}:11"),
        "epochs": Official(450, f"{_B0}:11"),
        "batch_size": Official(768, f"{_B0}:11"),
        "learning_rate": Official(0.048, f"{_B0}:13"),
        "optimizer": Official("rmsprop_tf", f"{_B0}:12"),
        "optimizer_epsilon": Official(1e-3, f"{_B0}:12"),
        "momentum": Official(0.9, f"{_TIMM}:116"),
        "weight_decay": Official(1e-5, f"{_B0}:12"),
        "weight_decay_mode": Official("l2", f"{_TIMM}:484"),
        "weight_decay_on_1d": Official(False, f"{_TIMM}:484"),
        "schedule": Official("timm_step", f"{_B0}:11"),
        "decay_epochs": Official(2.4, f"{_B0}:11"),
        "decay_rate": Official(0.97, f"{_B0}:12"),
        "warmup_epochs": Official(3.0, f"{_TIMM}:153"),
        "warmup_lr": Official(1e-6, f"{_B0}:12"),
        "ema_decay": Official(0.9999, f"{_B0}:13"),
        "augment": Official("resized_crop", f"{_TIMM}:579"),
        "randaugment": Official("rand-m9-mstd0.5", f"{_B0}:13"),
        "random_erasing": Official(0.2, f"{_B0}:13"),
        "train_interpolation": Official("random", f"{_TIMM}:205"),
        "test_interpolation": Official("bicubic", f"{_TIMM}:613"),
        "normalization": Official("imagenet", f"{_TIMM}:598"),
        "image_size": Official(224, f"{_TIMM}:92"),
        "dropout": Official(0.2, f"{_B0}:12"),
        "drop_connect": Official(0.2, f"{_B0}:12"),
        "label_smoothing": Official(0.1, f"{_TIMM}:203"),
        "mixed_precision": Official("float16", f"{_B0}:13"),
    },
    differences=(
        _RESAMPLING,
        _BATCH_NORM,
        _RANDOMNESS,
        (
            "RandAugment's geometric ops (rotate, shear, translate) resample bilinearly; timm draws bilinear or "
            "bicubic per op (TensorFlow's projective transform has no bicubic kernel)",
            "slightly smoother rotated and sheared images half the time: no measurable effect expected",
        ),
        (
            "the script trains on 2 GPUs of 384 images (readme.sh:11): batch normalisation sees 384 images; on one "
            "device ours sees 768 (--strategy mirrored on 2 GPUs: 384)",
            "slightly less noisy batch statistics on one device: within the spread over seeds",
        ),
        (
            "float16 loss scaling: Keras' LossScaleOptimizer starts at 2^15 and skips one batch per overflow; "
            "PyTorch's GradScaler starts at 2^16",
            "one more skipped update at the start at most: none",
        ),
        (
            "a resumed run starts its moving average of the weights again from the weights it resumes with (the "
            "average is not in the backup); timm's checkpoints keep it",
            "only after an interruption: the average forgets the epochs before it (~10,000 updates at 0.9999)",
        ),
    ),
)

PRESETS = (
    _cifar("cifar10", "resnet50"),
    _cifar("cifar100", "resnet50"),
    _cifar("cifar10", "efficientnet_b0"),
    _cifar("cifar100", "efficientnet_b0"),
    IMAGENET_RESNET50,
    IMAGENET_EFFICIENTNET_B0,
)
