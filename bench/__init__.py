"""Benchmarks of s2s against hand-written NumPy gradients and peer AD libraries.

    python bench/run.py [--quick] [--only NAME]     # writes bench/RESULTS.md, bench/results.png

workloads.py  the functions, their hand-written gradients (a Hessian for the Hessian
              row) and their arguments
peers.py      the same functions for JAX, PyTorch, HIPS autograd and tangent-ad
scaling.py    generated straight-line and loop functions for compile-time scaling
timing.py     round-robin timer and tracemalloc peaks
run.py        the driver
"""
