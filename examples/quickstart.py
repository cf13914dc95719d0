"""Quickstart: the autodiff article's example, differentiated by s2s.

Run: python examples/quickstart.py
"""

import numpy as np

import s2s


def loss(x):
    return np.sum((x + 3 - 2) ** 2)


if __name__ == "__main__":
    g = s2s.grad(loss)
    print("gradient of sum((x + 3 - 2) ** 2) at x = [1, 2]:", g(np.array([1.0, 2.0])))
    print("(the article's PyTorch version prints [2, 2]; d/dx (x + 1)^2 = 2 (x + 1))")
    print()
    print(g.source)
