"""rnn, fused style: one matmul of torch.cat([x, h]) against torch.cat([W_ih, W_hh]); LSTM loops over x.unbind(1)."""
import math

import torch
import torch.nn as nn


class LSTMCell(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def forward(self, x, state=None):
        if state is None:
            h = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype, device=x.device)
            c = torch.zeros_like(h)
        else:
            h, c = state
        xh = torch.cat([x, h], dim=1)                               # [B, in + H]
        W = torch.cat([self.weight_ih, self.weight_hh], dim=1)      # [4H, in + H]
        gates = xh @ W.t()
        if self.bias_ih is not None:
            gates = gates + (self.bias_ih + self.bias_hh)
        H = self.hidden_size
        i = torch.sigmoid(gates[:, 0 * H:1 * H])
        f = torch.sigmoid(gates[:, 1 * H:2 * H])
        g = torch.tanh(gates[:, 2 * H:3 * H])
        o = torch.sigmoid(gates[:, 3 * H:4 * H])
        c_next = f * c + i * g
        h_next = o * torch.tanh(c_next)
        return h_next, c_next


class GRUCell(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def forward(self, x, h=None):
        H = self.hidden_size
        if h is None:
            h = torch.zeros(x.size(0), H, dtype=x.dtype, device=x.device)
        # r and z: one fused product of [x, h] with [W_ih, W_hh] (their rows 0:2H)
        xh = torch.cat([x, h], dim=1)
        W_rz = torch.cat([self.weight_ih[:2 * H], self.weight_hh[:2 * H]], dim=1)
        rz = xh @ W_rz.t()
        # n: the input and hidden parts stay apart, r gates the hidden part only
        n_x = x @ self.weight_ih[2 * H:].t()
        n_h = h @ self.weight_hh[2 * H:].t()
        if self.bias_ih is not None:
            rz = rz + self.bias_ih[:2 * H] + self.bias_hh[:2 * H]
            n_x = n_x + self.bias_ih[2 * H:]
            n_h = n_h + self.bias_hh[2 * H:]
        r, z = torch.sigmoid(rz).split(H, dim=1)
        n = torch.tanh(n_x + r * n_h)
        return (1 - z) * n + z * h


class LSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size, bias=bias)

    def forward(self, x, state=None):
        hs = []
        for x_t in x.unbind(1):
            state = self.cell(x_t, state)
            hs.append(state[0])
        h_n, c_n = state
        return torch.stack(hs, 1), (h_n, c_n)
