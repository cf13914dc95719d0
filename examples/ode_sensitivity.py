"""Sensitivity of an Euler-integrated ODE (a damped, driven pendulum) to its
parameters: the gradient of the final state's energy, through 500 time steps.

Run: python examples/ode_sensitivity.py
"""

import numpy as np

import s2s


def final_energy(damping, stiffness, drive, theta0=1.0, omega0=0.0, dt=0.01, steps=500):
    theta, omega = theta0, omega0
    for i in range(steps):
        t = i * dt
        accel = -stiffness * np.sin(theta) - damping * omega + drive * np.cos(2.0 * t)
        theta = theta + dt * omega
        omega = omega + dt * accel
    return 0.5 * omega ** 2 + stiffness * (1.0 - np.cos(theta))


def main():
    params = (0.3, 4.0, 0.5)
    grad = s2s.grad(final_energy, wrt=(0, 1, 2))
    sensitivities = grad(*params)
    print(f"final energy {final_energy(*params):.6f}")
    for name, value, i in zip(("damping", "stiffness", "drive"), sensitivities, range(3)):
        hi, lo = list(params), list(params)
        hi[i] += 1e-6
        lo[i] -= 1e-6
        numeric = (final_energy(*hi) - final_energy(*lo)) / 2e-6
        print(f"d energy / d {name:9s} = {value:+.8f}   (central differences {numeric:+.8f})")
    return sensitivities


if __name__ == "__main__":
    main()
