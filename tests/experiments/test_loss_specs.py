import keras
import pytest

import keras_losses
from keras_losses_experiments.losses import build_loss, default_square_parameters, split_specs


def test_split_keeps_square_arguments_together():
    assert split_specs("ce, square:1,15,encouraging:0.75,squentropy") == [
        "ce",
        "square:1,15",
        "encouraging:0.75",
        "squentropy",
    ]


@pytest.mark.parametrize(
    "spec,cls,expected",
    [
        ("ce", keras_losses.CrossEntropy, {"from_logits": True}),
        ("square", keras_losses.SquareLoss, {"k": 1.0, "m": 15.0}),  # 100 classes: the paper's (1, 15)
        ("square:15,30", keras_losses.SquareLoss, {"k": 15.0, "m": 30.0}),
        ("encouraging", keras_losses.EncouragingLoss, {"log_end": 1.0, "from_logits": True}),
        ("encouraging:0.75", keras_losses.EncouragingLoss, {"log_end": 0.75}),
        ("conservative_encouraging", keras_losses.ConservativeEncouragingLoss, {"log_end": 0.75}),
        ("conservative_encouraging:0.5", keras_losses.ConservativeEncouragingLoss, {"log_end": 0.5}),
        ("squentropy", keras_losses.Squentropy, {}),
    ],
)
def test_build_loss(spec, cls, expected):
    loss = build_loss(spec, num_classes=100, label_smoothing=0.1, ignore_class=0, mean_over_global_batch=True)
    config = loss.get_config()
    assert type(loss) is cls and config["label_smoothing"] == 0.1 and config["ignore_class"] == 0
    assert expected.items() <= config.items() and config["mean_over_global_batch"] is True
    assert build_loss(spec, num_classes=100).mean_over_global_batch is False


def test_square_defaults_follow_the_paper():
    assert default_square_parameters(10) == (1.0, 1.0)
    assert default_square_parameters(42) == (1.0, 15.0)
    assert default_square_parameters(1000) == (15.0, 30.0)


@pytest.mark.parametrize("spec", ["focal", "square:1", "ce:0.1", "encouraging:a", "encouraging:1.5", "squentropy:2"])
def test_bad_specifications_name_what_is_accepted(spec):
    with pytest.raises(ValueError, match=f"bad loss specification '{spec}'"):
        build_loss(spec, num_classes=10)


def test_all_built_losses_are_keras_losses():
    specs = split_specs("ce,square,encouraging,squentropy")
    assert all(isinstance(build_loss(s, 10), keras.losses.Loss) for s in specs)


@pytest.mark.parametrize("family", ["square", "encouraging", "conservative_encouraging"])
@pytest.mark.parametrize("value", [-1.0, 0.0, 1e-9, 0.5, 0.75, 1.0, 1.5, 30.0, float("inf"), float("nan")])
def test_check_without_keras_agrees_with_the_loss_constructors(family, value):
    """`check_spec` (used before Keras is imported) refuses exactly what the losses refuse."""
    from keras_losses_experiments.losses import check_spec

    spec = f"{family}:{value},{value}" if family == "square" else f"{family}:{value}"
    outcomes = []
    for check in (check_spec, lambda s: build_loss(s, num_classes=10)):
        try:
            check(spec)
            outcomes.append("accepted")
        except ValueError:
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1], spec
