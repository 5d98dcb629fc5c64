"""Validation of the hyper-parameters: a clear `ValueError` naming the argument and its valid range."""


def check_range(name, value, low, high, low_closed=False, high_closed=False):
    """Returns `float(value)`; raises `ValueError` unless `low (<|<=) value (<|<=) high`."""
    above = value >= low if low_closed else value > low
    below = value <= high if high_closed else value < high
    if not (above and below):
        interval = ("[" if low_closed else "(") + f"{low}, {high}" + ("]" if high_closed else ")")
        raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value!r}")
    return float(value)


def check_label_arguments(label_smoothing, ignore_class):
    """Validates the label arguments every loss takes; returns them as float and int (or None)."""
    label_smoothing = check_range("label_smoothing", label_smoothing, 0.0, 1.0, low_closed=True)
    if ignore_class is not None:
        if isinstance(ignore_class, bool) or int(ignore_class) != ignore_class:
            raise ValueError(f"`ignore_class` must be an integer or None. Received: ignore_class={ignore_class!r}")
        ignore_class = int(ignore_class)
    return label_smoothing, ignore_class
