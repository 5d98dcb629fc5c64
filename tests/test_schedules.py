"""`keras_losses.schedules`: the step schedules against PyTorch's `MultiStepLR` and `StepLR` and a transcription
of timm's `StepLRScheduler`, and `ScheduleOnUpdates` under Keras' gradient accumulation."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_losses.schedules import EpochStepDecay, ScheduleOnUpdates, StepDecay

STEPS_PER_EPOCH = 3


def per_step(schedule, epochs):
    """The schedule at every step of `epochs` epochs, one row per epoch."""
    steps = np.arange(epochs * STEPS_PER_EPOCH)
    return ops.convert_to_numpy(schedule(ops.convert_to_tensor(steps))).reshape(epochs, STEPS_PER_EPOCH)


def torch_per_epoch(make_scheduler, learning_rate, epochs):
    """The learning rate of each epoch under a PyTorch scheduler stepped once per epoch, as the scripts do."""
    torch = pytest.importorskip("torch")
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=learning_rate)
    scheduler, rates = make_scheduler(torch.optim.lr_scheduler, optimizer), []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(rates)


def timm_step_lr(epoch, learning_rate, decay_t, decay_rate, warmup_t, warmup_lr_init):
    """timm's `StepLRScheduler._get_lr(t)` (t_in_epochs), transcribed: the rate of epoch `epoch`."""
    if epoch < warmup_t:
        return warmup_lr_init + epoch * (learning_rate - warmup_lr_init) / warmup_t
    return learning_rate * decay_rate ** (epoch // decay_t)


def test_step_decay_is_multisteplr_30_60_80():
    # The CIFAR recipe: MultiStepLR(milestones=[30, 60, 80], gamma=0.1), stepped per epoch, 90 epochs.
    expected = torch_per_epoch(lambda s, o: s.MultiStepLR(o, milestones=[30, 60, 80], gamma=0.1), 0.025, 90)
    schedule = StepDecay(0.025, boundaries=[m * STEPS_PER_EPOCH for m in (30, 60, 80)], factor=0.1)
    np.testing.assert_allclose(per_step(schedule, 90), np.repeat(expected[:, None], STEPS_PER_EPOCH, 1), rtol=1e-6)
    assert expected[29] == 0.025 and np.isclose(expected[30], 0.0025) and np.isclose(expected[89], 2.5e-5)


def test_steplr_30_is_step_decay_and_epoch_step_decay():
    # The ImageNet ResNet-50 recipe: StepLR(step_size=30, gamma=0.1), stepped per epoch.
    expected = np.repeat(torch_per_epoch(lambda s, o: s.StepLR(o, 30, 0.1), 0.1, 120)[:, None], STEPS_PER_EPOCH, 1)
    step_decay = StepDecay(0.1, boundaries=[e * STEPS_PER_EPOCH for e in (30, 60, 90)], factor=0.1)
    np.testing.assert_allclose(per_step(step_decay, 120), expected, rtol=1e-6)
    np.testing.assert_allclose(per_step(EpochStepDecay(0.1, 30, 0.1, STEPS_PER_EPOCH), 120), expected, rtol=1e-6)


def test_epoch_step_decay_is_timms_step_scheduler_with_warmup():
    # The EfficientNet-B0 ImageNet recipe: --lr .048 --decay-epochs 2.4 --decay-rate .97 --warmup-lr 1e-6,
    # 3 warm-up epochs (timm's default), 450 epochs.
    schedule = EpochStepDecay(0.048, 2.4, 0.97, STEPS_PER_EPOCH, warmup_epochs=3, warmup_learning_rate=1e-6)
    expected = [timm_step_lr(e, 0.048, 2.4, 0.97, 3, 1e-6) for e in range(450)]
    np.testing.assert_allclose(per_step(schedule, 450), np.repeat(np.array(expected)[:, None], 3, 1), rtol=2e-6)
    # By hand: the warm-up's three epochs, then epoch 3 already decayed once (3 // 2.4 = 1), and 12 // 2.4 = 5.
    hand = [1e-6, 1e-6 + (0.048 - 1e-6) / 3, 1e-6 + 2 * (0.048 - 1e-6) / 3, 0.048 * 0.97, 0.048 * 0.97**5]
    got = ops.convert_to_numpy(schedule(ops.convert_to_tensor([0, 5, 8, 9, 36])))
    np.testing.assert_allclose(got, hand, rtol=1e-6)


@pytest.mark.parametrize("decay_epochs", [2.4, 1.1, 0.7, 2.5, 30, 1 / 3])
def test_the_decay_count_is_pythons_float_floor_division(decay_epochs):
    # timm computes `t // decay_t` on floats: 12 // 2.4 == 5, but 11 // 1.1 == 9 (1.1 is stored above 11/10).
    schedule = EpochStepDecay(1.0, decay_epochs, 0.99, steps_per_epoch=1)
    rates = ops.convert_to_numpy(schedule(ops.convert_to_tensor(np.arange(500))))
    periods = np.round(np.log(rates.astype("float64")) / np.log(0.99)).astype(int)
    np.testing.assert_array_equal(periods, [int(e // decay_epochs) for e in range(500)])


def test_schedule_on_updates_counts_updates_under_gradient_accumulation():
    # Keras calls a schedule with the batch count; wrapped, the k-th update of N batches gets schedule(k).
    inner = StepDecay(0.5, boundaries=[2], factor=0.1)
    rates = {}
    for name, schedule in (("plain", inner), ("wrapped", ScheduleOnUpdates(inner, 3))):
        optimizer = keras.optimizers.SGD(schedule, gradient_accumulation_steps=3)
        w = keras.Variable(np.zeros(1, "float32"))
        moves = []
        for _ in range(12):  # four updates of three batches with gradient 1: each moves w by -lr
            before = float(ops.convert_to_numpy(w)[0])
            optimizer.apply([ops.ones((1,))], [w])
            moves.append(before - float(ops.convert_to_numpy(w)[0]))
        rates[name] = [m for m in moves if m]
        assert int(ops.convert_to_numpy(optimizer.iterations)) == 4
    np.testing.assert_allclose(rates["wrapped"], [0.5, 0.5, 0.05, 0.05], rtol=1e-6)
    # Keras alone: the k-th update gets schedule(3k + 2), the batch count, past the boundary from the first.
    np.testing.assert_allclose(rates["plain"], [0.05, 0.05, 0.05, 0.05], rtol=1e-6)


@pytest.mark.parametrize(
    "schedule",
    [
        EpochStepDecay(0.048, 2.4, 0.97, 5, warmup_epochs=3, warmup_learning_rate=1e-6),
        ScheduleOnUpdates(EpochStepDecay(0.1, 30, 0.1, 7), 4),
    ],
    ids=["EpochStepDecay", "ScheduleOnUpdates"],
)
def test_config_round_trip(schedule):
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    steps = ops.convert_to_tensor(np.arange(0, 400, 7))
    np.testing.assert_array_equal(ops.convert_to_numpy(clone(steps)), ops.convert_to_numpy(schedule(steps)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: EpochStepDecay(0.0, 2.4, 0.97, 10), r"`learning_rate` must be a finite number > 0"),
        (lambda: EpochStepDecay(0.1, 0, 0.97, 10), r"`decay_epochs` must be a finite number > 0"),
        (lambda: EpochStepDecay(0.1, np.pi, 0.97, 10), r"`decay_epochs` must be a ratio of integers.*3.14159"),
        (lambda: EpochStepDecay(0.1, 2.4, 1.5, 10), r"`decay_rate` must be in \(0, 1\]. Received: decay_rate=1.5"),
        (lambda: EpochStepDecay(0.1, 2.4, 0.97, 0), r"`steps_per_epoch` must be an integer >= 1"),
        (lambda: EpochStepDecay(0.1, 2.4, 0.97, 10, warmup_epochs=1.5), r"`warmup_epochs` must be an integer >= 0"),
        (lambda: EpochStepDecay(0.1, 2.4, 0.97, 10, 3, -1e-6), r"`warmup_learning_rate` must be a finite number >= 0"),
        (lambda: ScheduleOnUpdates(0.1, 4), r"`schedule` must be a keras.optimizers.schedules.LearningRateSchedule"),
        (lambda: ScheduleOnUpdates(StepDecay(0.1), 0), r"`gradient_accumulation_steps` must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
