"""A student's numpy BPTT for examples/rnn.grad, the CS231n way (checked with --impl):

    gradcheck verify examples/rnn.grad --impl examples/rnn_bptt.py:rnn_forward_backward

gradcheck calls the function with the file's variables by name: a sequence as one (T, D) array
(`x[t]` is row t−1 of `x`), one-hot labels `y` as (T, C) rows, the initial state `h[0]` as `h0`,
and vectors as 1-d arrays. It returns the loss and a dict of gradients with the same names.
"""

import numpy as np


def rnn_forward_backward(x, y, h0, W_hh, W_xh, W_hy, b):
    T = x.shape[0]
    hs, ps, loss = {0: h0}, {}, 0.0
    for t in range(1, T + 1):  # forward: h_t = tanh(W_hh h_{t-1} + W_xh x_t + b), p_t = softmax(W_hy h_t)
        hs[t] = np.tanh(W_hh @ hs[t - 1] + W_xh @ x[t - 1] + b)
        scores = W_hy @ hs[t]
        e = np.exp(scores - scores.max())
        ps[t] = e / e.sum()
        loss += -float(y[t - 1] @ np.log(ps[t]))
    dW_hh, dW_xh, dW_hy, db = (np.zeros_like(a) for a in (W_hh, W_xh, W_hy, b))
    dnext = np.zeros_like(h0)  # δ_{T+1} = 0: nothing flows in after the last step
    for t in range(T, 0, -1):  # backward through time: δ_t = (W_hhᵀ δ_{t+1} + W_hyᵀ (p_t − y_t)) ∘ (1 − h_t²)
        dy = ps[t] - y[t - 1]
        dW_hy += np.outer(dy, hs[t])
        d = (W_hh.T @ dnext + W_hy.T @ dy) * (1 - hs[t] ** 2)
        dW_hh += np.outer(d, hs[t - 1])  # a shared weight's gradient is the sum over the steps
        dW_xh += np.outer(d, x[t - 1])
        db += d
        dnext = d
    return loss, {"W_hh": dW_hh, "W_xh": dW_xh, "W_hy": dW_hy, "b": db, "h0": W_hh.T @ dnext}
