"""Logistic regression fitted by gradient descent with the s2s gradient.

Run: python examples/logistic_regression.py
"""

import numpy as np

import s2s


def loss(w, b, x, y):
    z = x @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def main(n=2000, d=5, steps=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    true_w = rng.standard_normal(d)
    y = (x @ true_w + 0.3 * rng.standard_normal(n) > 0).astype(float)
    grad = s2s.grad(loss, wrt=("w", "b"))
    w, b = np.zeros(d), 0.0
    for _ in range(steps):
        dw, db = grad(w, b, x, y)
        w, b = w - 0.5 * dw, b - 0.5 * db
    accuracy = np.mean(((x @ w + b) > 0) == (y > 0.5))
    print(f"loss {loss(w, b, x, y):.4f}, training accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
    print()
    print(s2s.grad(loss, wrt=("w", "b")).source)
