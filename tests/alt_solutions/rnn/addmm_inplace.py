"""rnn, addmm style: torch.addmm and in-place ops (addmm_, sigmoid_, addcmul_) on the cell's own intermediates; GRU via torch.lerp."""
import math

import torch
import torch.nn as nn


def _affine(x, weight, bias):
    """x W^T + b as one torch.addmm (a plain mm when there is no bias)."""
    if bias is None:
        return torch.mm(x, weight.t())
    return torch.addmm(bias, x, weight.t())


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
        B, H = x.shape[0], self.hidden_size
        if state is None:
            h = x.new_zeros(B, H)
            c = x.new_zeros(B, H)
        else:
            h, c = state
        gates = _affine(x, self.weight_ih, self.bias_ih)  # a fresh tensor: ours to update in place
        gates.addmm_(h, self.weight_hh.t())
        if self.bias_hh is not None:
            gates.add_(self.bias_hh)
        i, f, g, o = gates.chunk(4, 1)
        i, f, o = i.sigmoid(), f.sigmoid(), o.sigmoid()
        g = g.tanh()
        c_next = torch.mul(f, c)       # new tensor, then accumulate i*g into it
        c_next.addcmul_(i, g)
        h_next = o * c_next.tanh()
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
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        gi = _affine(x, self.weight_ih, self.bias_ih)
        gh = _affine(h, self.weight_hh, self.bias_hh)
        i_r, i_z, i_n = gi.chunk(3, 1)
        h_r, h_z, h_n = gh.chunk(3, 1)
        r = torch.add(i_r, h_r).sigmoid_()
        z = torch.add(i_z, h_z).sigmoid_()
        n = torch.addcmul(i_n, r, h_n).tanh_()
        return torch.lerp(n, h, z)  # n + z * (h - n) = (1 - z) * n + z * h


class LSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size, bias=bias)

    def forward(self, x, state=None):
        steps = []
        h_c = state
        for t in range(x.size(1)):
            h_c = self.cell(x.select(1, t), h_c)
            steps.append(h_c[0].unsqueeze(1))
        return torch.cat(steps, dim=1), h_c
