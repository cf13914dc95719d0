"""A tanh MLP with softmax cross-entropy, trained by gradient descent with the
gradient module s2s wrote to generated/mlp_training_grad.py (committed; import it
without s2s).  Saves mlp_loss.png when matplotlib is installed.

Run: python examples/mlp_training.py [steps]
Regenerate the gradient: s2s grad examples/mlp_training.py:loss --wrt w1,b1,w2,b2 -o generated/mlp_training_grad.py
"""

import os
import sys

import numpy as np


def loss(w1, b1, w2, b2, x, labels):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(labels * log_probs, axis=1))


def data(n=300, seed=0):
    """Three interleaved spirals."""
    rng = np.random.default_rng(seed)
    k = np.repeat(np.arange(3), n // 3)
    r = np.tile(np.linspace(0.05, 1.0, n // 3), 3)
    t = k * 2.1 + r * 4.0 + rng.normal(0, 0.2, n)
    x = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    return x, np.eye(3)[k]


def main(steps=300, hidden=32, rate=1.0, seed=0):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "generated"))
    from mlp_training_grad import loss_value_and_grad  # written by `s2s grad`, NumPy only

    x, labels = data()
    rng = np.random.default_rng(seed)
    params = [rng.normal(0, 1.0, (2, hidden)), np.zeros(hidden),
              rng.normal(0, 0.3, (hidden, 3)), np.zeros(3)]
    curve = []
    for step in range(steps):
        value, grads = loss_value_and_grad(*params, x, labels)
        params = [p - rate * g for p, g in zip(params, grads)]
        curve.append(value)
    accuracy = np.mean(np.argmax(np.tanh(x @ params[0] + params[1]) @ params[2] + params[3],
                                 axis=1) == np.argmax(labels, axis=1))
    print(f"loss {curve[0]:.3f} -> {curve[-1]:.3f} in {steps} steps, accuracy {accuracy:.2f}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return curve
    plt.plot(curve)
    plt.xlabel("step")
    plt.ylabel("loss")
    plt.title("tanh MLP, gradient from generated/mlp_training_grad.py")
    plt.savefig("mlp_loss.png", dpi=100)
    print("saved mlp_loss.png")
    return curve


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
