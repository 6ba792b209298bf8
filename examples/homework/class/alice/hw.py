"""Homework 2, question 2 (reference solution): the window classifier in numpy.

    x = [x1; x2; x3; x4; x5],  z = W x + b,  h = tanh(z),  s = uᵀ h

`gradcheck` calls `forward_backward(**arrays)` with one array per variable of
grading/window.grad, named as declared there: vectors as 1-D arrays (length d
for the words, n for b and u), W as an n x 5d matrix. It returns the score
and a dict with the gradient of s for every variable, each of its variable's
shape.
"""

import numpy as np


def forward_backward(x1, x2, x3, x4, x5, W, b, u):
    words = [x1, x2, x3, x4, x5]
    d = x1.shape[0]
    x = np.concatenate(words)  # the window vector, (5d,)
    z = W @ x + b
    h = np.tanh(z)
    s = float(u @ h)

    delta = u * (1.0 - h**2)  # ∂s/∂z = u ∘ tanh′(z)
    dx = W.T @ delta  # ∂s/∂x, the whole window
    grads = {
        "W": np.outer(delta, x),  # δ xᵀ, n x 5d
        "b": delta,
        "u": h,
    }
    for k in range(5):  # the window gradient, split back into words
        grads[f"x{k + 1}"] = dx[k * d:(k + 1) * d]
    return s, grads
