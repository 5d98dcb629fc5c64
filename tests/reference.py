"""Independent NumPy (float64) references, written from ../shared/LOSSES.md."""

import numpy as np

EPS = 1e-5


def log_softmax(z):
    z = np.asarray(z, np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def one_hot(y, num_classes):
    return np.eye(num_classes)[np.asarray(y)]


def smooth(q, s):
    return q * (1 - s) + s / q.shape[-1]


def bonus(p, log_end):
    b = np.log(np.maximum(1 - p, EPS))
    if log_end < 1:
        b = np.where(p > log_end, np.log(1 - log_end) - (p - log_end) / (1 - log_end), b)
    return b


def cross_entropy(q, z):
    return -(q * log_softmax(z)).sum(-1)


def encouraging(q, z, log_end=1.0):
    """sum_i q_i * (-log p_i + b(p_i)) on logits z."""
    log_p = log_softmax(z)
    return (q * (-log_p + bonus(np.exp(log_p), log_end))).sum(-1)


def encouraging_sparse(y, z, log_end=1.0):
    """-log p_y + b(p_y), one example at a time."""
    z = np.asarray(z, np.float64).reshape(-1, np.shape(z)[-1])
    out = []
    for row, label in zip(z, np.ravel(y)):
        log_p = log_softmax(row)[label]
        out.append(-log_p + bonus(np.exp(log_p), log_end))
    return np.array(out).reshape(np.shape(y))


def square_sparse(y, z, k=1.0, m=1.0):
    """(1/C) [k (z_y - M)^2 + sum_{i != y} z_i^2], one example at a time."""
    z = np.asarray(z, np.float64).reshape(-1, np.shape(z)[-1])
    num_classes = z.shape[-1]
    out = []
    for row, label in zip(z, np.ravel(y)):
        others = sum(row[i] ** 2 for i in range(num_classes) if i != label)
        out.append((k * (row[label] - m) ** 2 + others) / num_classes)
    return np.array(out).reshape(np.shape(y))


def square(q, z, k=1.0, m=1.0):
    z = np.asarray(z, np.float64)
    return ((1 + (k - 1) * q) * (z - m * q) ** 2).mean(-1)


def squentropy(q, z):
    z = np.asarray(z, np.float64)
    return -(q * log_softmax(z)).sum(-1) + ((1 - q) * z**2).sum(-1) / (z.shape[-1] - 1)


def encouraging_gradient(y, z, log_end=1.0):
    """Closed form: g(p_y) * (p - onehot(y)), g(p) = 1 - p b'(p)."""
    p = np.exp(log_softmax(z))
    p_y = np.take_along_axis(p, np.asarray(y)[..., None], -1)
    derivative = np.where(1 - p_y < EPS, 0.0, -1 / (1 - p_y))
    if log_end < 1:
        derivative = np.where(p_y > log_end, -1 / (1 - log_end), derivative)
    return (1 - p_y * derivative) * (p - one_hot(y, z.shape[-1]))
