"""Loss specifications as written on the command line: `ce`, `square:15,30`, `encouraging:0.75`, ...

Keras is imported only when a loss is built: `split_specs` and `check_spec` answer without it.
"""

SPEC_HELP = "ce, square[:k,m], encouraging[:log_end], conservative_encouraging[:log_end], squentropy"
#: How many numbers each family takes after its colon.
ARGUMENT_COUNTS = {
    "ce": (0,),
    "square": (0, 2),
    "encouraging": (0, 1),
    "conservative_encouraging": (0, 1),
    "squentropy": (0,),
}
FAMILIES = tuple(ARGUMENT_COUNTS)


def default_square_parameters(num_classes):
    """The square-loss paper's (k, m): (1, 1) below 42 classes, (1, 15) up to 1000, (15, 30) from 1000."""
    if num_classes < 42:
        return 1.0, 1.0
    if num_classes < 1000:
        return 1.0, 15.0
    return 15.0, 30.0


def split_specs(text):
    """Splits a comma-separated list, keeping `square:k,m` together: 'ce,square:1,15' -> ['ce', 'square:1,15']."""
    specs = []
    for token in (t.strip() for t in text.split(",")):
        if specs and ":" in specs[-1] and _is_number(token):
            specs[-1] += "," + token
        elif token:
            specs.append(token)
    if not specs:
        raise ValueError(f"no loss given; expected a comma-separated list of: {SPEC_HELP}")
    return specs


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


#: The numbers after each family's colon, in order, with their ranges as (low, high, low_closed, high_closed),
#: as the loss constructors check them (tests/experiments/test_loss_specs.py checks that both agree).
ARGUMENT_RANGES = {
    "square": (("k", 0.0, float("inf"), False, False), ("m", 0.0, float("inf"), False, False)),
    "encouraging": (("log_end", 0.0, 1.0, False, True),),
    "conservative_encouraging": (("log_end", 0.0, 1.0, False, False),),
}


def parse_spec(spec):
    """`'square:1,15'` -> `('square', [1.0, 15.0])`; raises `ValueError` naming the accepted forms."""
    family, _, arguments = spec.partition(":")
    try:
        values = [float(v) for v in arguments.split(",")] if arguments else []
    except ValueError:
        raise ValueError(f"bad loss specification {spec!r}: arguments must be numbers; accepted: {SPEC_HELP}") from None
    if family not in ARGUMENT_COUNTS or len(values) not in ARGUMENT_COUNTS[family]:
        raise ValueError(f"bad loss specification {spec!r}; accepted: {SPEC_HELP}")
    return family, values


def check_spec(spec):
    """What `build_loss` would raise for `spec`, answered without importing Keras."""
    family, values = parse_spec(spec)
    for value, (name, low, high, low_closed, high_closed) in zip(values, ARGUMENT_RANGES.get(family, ())):
        above = value >= low if low_closed else value > low
        below = value <= high if high_closed else value < high
        if not (above and below):
            interval = ("[" if low_closed else "(") + f"{low}, {high}" + ("]" if high_closed else ")")
            raise ValueError(f"bad loss specification {spec!r}: `{name}` must be in {interval}. Received: {value!r}")


def build_loss(spec, num_classes, label_smoothing=0.0, ignore_class=None, mean_over_global_batch=False):
    """A loss instance for a model with a linear (logits) output layer.

    `mean_over_global_batch=True`: the mean over the valid entries of the global batch of a step, whatever
    the number of replicas (see `keras_losses.loss.ClassificationLoss`); the translators use it, so that a
    step on N replicas equals the one-device step on the same global batch, token for token.
    Raises `ValueError` with a one-line message naming the accepted forms.
    """
    import keras_losses

    family, values = parse_spec(spec)
    common = {
        "label_smoothing": label_smoothing,
        "ignore_class": ignore_class,
        "mean_over_global_batch": mean_over_global_batch,
    }
    try:
        if family == "ce":
            return keras_losses.CrossEntropy(from_logits=True, **common)
        if family == "square":
            k, m = values or default_square_parameters(num_classes)
            return keras_losses.SquareLoss(k=k, m=m, **common)
        if family == "encouraging":
            return keras_losses.EncouragingLoss(log_end=values[0] if values else 1.0, from_logits=True, **common)
        if family == "conservative_encouraging":
            return keras_losses.ConservativeEncouragingLoss(
                log_end=values[0] if values else 0.75, from_logits=True, **common
            )
        return keras_losses.Squentropy(**common)
    except ValueError as error:
        raise ValueError(f"bad loss specification {spec!r}: {error}") from None
