"""Quickstart: the autodiff article's example, then a logistic-regression loss.

Run: python examples/quickstart.py
"""

import numpy as np

import s2s


def loss(x):
    return np.sum((x + 3 - 2) ** 2)


def logistic_loss(w, b, x, y):
    z = x @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


if __name__ == "__main__":
    g = s2s.grad(loss)
    print("gradient of sum((x + 3 - 2) ** 2) at x = [1, 2]:", g(np.array([1.0, 2.0])))
    print()
    print(g.source)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(float)
    grad = s2s.grad(logistic_loss, wrt=("w", "b"))
    w, b = np.zeros(3), 0.0
    for step in range(200):
        dw, db = grad(w, b, x, y)
        w, b = w - 1.0 * dw, b - 1.0 * db
    print(f"logistic regression after 200 steps: loss {logistic_loss(w, b, x, y):.4f}, "
          f"w = {np.round(w, 2)}")
    print()
    print(grad.source)
