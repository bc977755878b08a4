"""rnn, einsum style: weights viewed as [n_gates, H, in] and torch.einsum per gate stack; LSTM precomputes every step's input projection and walks torch.split."""
import math

import torch
import torch.nn as nn


def _stacked(x, weight, bias, n_gates):
    """[n_gates, B, H]: every gate's x W^T + b, from a [n_gates*H, in] weight, via einsum."""
    w = weight.view(n_gates, -1, weight.shape[-1])
    out = torch.einsum("bi,ghi->gbh", x, w)
    if bias is not None:
        out = out + bias.view(n_gates, 1, -1)
    return out


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

    def step(self, x_proj, state):
        """One step given the input part of the gates, x_proj [4, B, H]."""
        h, c = state
        pre = x_proj + _stacked(h, self.weight_hh, self.bias_hh, 4)
        i, f, g, o = pre.unbind(0)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_next = torch.sigmoid(o) * torch.tanh(c_next)
        return h_next, c_next

    def forward(self, x, state=None):
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        return self.step(_stacked(x, self.weight_ih, self.bias_ih, 4), state)


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
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        xr, xz, xn = _stacked(x, self.weight_ih, self.bias_ih, 3)
        hr, hz, hn = _stacked(h, self.weight_hh, self.bias_hh, 3)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return n + z * (h - n)


class LSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size, bias=bias)

    def forward(self, x, state=None):
        cell = self.cell
        B = x.shape[0]
        if state is None:
            state = (x.new_zeros(B, self.hidden_size), x.new_zeros(B, self.hidden_size))
        # the input half of every gate, for all time steps at once: [4, B, T, H]
        w = cell.weight_ih.view(4, self.hidden_size, self.input_size)
        x_proj = torch.einsum("bti,ghi->gbth", x, w)
        if cell.bias_ih is not None:
            x_proj = x_proj + cell.bias_ih.view(4, 1, 1, self.hidden_size)
        outputs = []
        for x_t in torch.split(x_proj, 1, dim=2):
            state = cell.step(x_t.squeeze(2), state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state
