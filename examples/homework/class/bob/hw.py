"""Homework 2, question 2: the window classifier in numpy (an example student submission).

    x = [x1; x2; x3; x4; x5],  z = W x + b,  h = tanh(z),  s = uᵀ h

This submission has a deliberate, classic bug for the example: tanh′ is
written with the pre-activation z instead of the activation h, so every
gradient that goes through δ (W, b and the word vectors) is wrong, while the
score and ∂s/∂u are right. `gradcheck run` reports exactly those.
"""

import numpy as np


def forward_backward(x1, x2, x3, x4, x5, W, b, u):
    x = np.concatenate([x1, x2, x3, x4, x5])
    d = len(x1)
    z = W @ x + b
    h = np.tanh(z)
    s = float(u @ h)

    delta = u * (1 - z**2)  # the bug: tanh'(z) is 1 - tanh(z)**2 = 1 - h**2
    grad_x = W.T @ delta
    return s, {
        "W": np.outer(delta, x),
        "b": delta,
        "u": h,
        "x1": grad_x[0:d],
        "x2": grad_x[d:2 * d],
        "x3": grad_x[2 * d:3 * d],
        "x4": grad_x[3 * d:4 * d],
        "x5": grad_x[4 * d:5 * d],
    }
