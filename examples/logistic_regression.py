"""Logistic regression fitted with scipy.optimize.minimize, using the s2s gradient.

Run: python examples/logistic_regression.py
"""

import numpy as np

import s2s


def loss(w, b, x, y):
    z = x @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def fit(x, y):
    """Minimise the loss over (w, b) packed in one vector, with the exact gradient."""
    from scipy.optimize import minimize
    value_and_grad = s2s.value_and_grad(loss, wrt=("w", "b"))
    d = x.shape[1]

    def objective(theta):
        value, (dw, db) = value_and_grad(theta[:d], theta[d], x, y)
        return value, np.append(dw, db)

    result = minimize(objective, np.zeros(d + 1), jac=True, method="L-BFGS-B")
    return result.x[:d], result.x[d], result


def main(n=2000, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = (x @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n) > 0).astype(float)
    w, b, result = fit(x, y)
    accuracy = np.mean(((x @ w + b) > 0) == (y > 0.5))
    print(f"L-BFGS: {result.nit} iterations, loss {result.fun:.4f}, "
          f"training accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
    print()
    print(s2s.grad(loss, wrt=("w", "b")).source)
