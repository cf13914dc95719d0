"""The Gaussian-mixture log-likelihood objective of the ADBench AD benchmark
(log-sum-exp over components, Cholesky-parametrised precisions, Wishart prior),
with its s2s gradient checked against central differences.

Run: python examples/gmm.py
"""

import math

import numpy as np

import s2s


def log_gamma_distrib(a, p):
    out = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        out = out + math.lgamma(a + 0.5 * (1 - j))
    return out


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    n, d = x.shape
    k = alphas.shape[0]
    q_diags = np.exp(icf[:, :d])
    sum_qs = np.sum(icf[:, :d], axis=1)
    # the strictly lower triangle of each L, filled column by column from icf[:, d:]
    cols, rows = np.triu_indices(d, 1)
    select = np.eye(d * d)[rows * d + cols]
    lower = np.reshape(icf[:, d:] @ select, (k, d, d))
    centered = x[None, :, :] - means[:, None, :]
    q_centered = q_diags[:, None, :] * centered + centered @ np.transpose(lower, (0, 2, 1))
    inner = alphas[:, None] + sum_qs[:, None] - 0.5 * np.sum(q_centered ** 2, axis=2)
    top = np.max(inner, axis=0)
    log_sum = top + np.log(np.sum(np.exp(inner - top), axis=0))
    top_alpha = np.max(alphas)
    log_alphas = top_alpha + np.log(np.sum(np.exp(alphas - top_alpha)))
    dof = d + wishart_m + 1
    prior = np.sum(0.5 * wishart_gamma ** 2 * (np.sum(q_diags ** 2, axis=1)
                                               + np.sum(icf[:, d:] ** 2, axis=1))
                   - wishart_m * sum_qs)
    prior_constant = dof * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) \
        - log_gamma_distrib(0.5 * dof, d)
    return -n * d * 0.5 * math.log(2 * math.pi) + np.sum(log_sum) - n * log_alphas \
        + prior - k * prior_constant


def problem(d=2, k=5, n=100, seed=0):
    rng = np.random.default_rng(seed)
    alphas = rng.standard_normal(k)
    means = rng.random((k, d))
    icf = rng.standard_normal((k, d + d * (d - 1) // 2)) * 0.3
    x = rng.standard_normal((n, d))
    return alphas, means, icf, x, 1.0, 0


def main():
    args = problem()
    grads = s2s.grad(gmm_objective, wrt=(0, 1, 2))(*args)
    rng = np.random.default_rng(1)
    worst = 0.0
    for i, g in enumerate(grads):
        v = rng.standard_normal(np.shape(args[i]))
        hi, lo = list(args), list(args)
        hi[i], lo[i] = args[i] + 1e-6 * v, args[i] - 1e-6 * v
        numeric = (gmm_objective(*hi) - gmm_objective(*lo)) / 2e-6
        error = abs(np.vdot(g, v) - numeric) / max(1.0, abs(numeric))
        worst = max(worst, error)
        print(f"d/d{['alphas', 'means', 'icf'][i]}: s2s {np.vdot(g, v):+.8f}  "
              f"central differences {numeric:+.8f}")
    print(f"objective {gmm_objective(*args):.6f}; worst relative error {worst:.1e}")
    return worst


if __name__ == "__main__":
    main()
