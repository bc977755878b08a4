"""rnn, per-gate style: one F.linear per gate on slices of the weight blocks; LSTM fills a torch.zeros output buffer by index."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _block(param, k, size):
    """Rows k*size:(k+1)*size of a stacked weight or bias (None stays None)."""
    return None if param is None else param[k * size:(k + 1) * size]


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

    def _gate(self, k, x, h):
        H = self.hidden_size
        return (F.linear(x, _block(self.weight_ih, k, H), _block(self.bias_ih, k, H))
                + F.linear(h, _block(self.weight_hh, k, H), _block(self.bias_hh, k, H)))

    def forward(self, x, state=None):
        if state is None:
            h = x.new_zeros((x.shape[0], self.hidden_size))
            c = x.new_zeros((x.shape[0], self.hidden_size))
        else:
            h, c = state
        input_gate = torch.sigmoid(self._gate(0, x, h))
        forget_gate = torch.sigmoid(self._gate(1, x, h))
        cell_candidate = torch.tanh(self._gate(2, x, h))
        output_gate = torch.sigmoid(self._gate(3, x, h))
        c_next = forget_gate * c + input_gate * cell_candidate
        h_next = output_gate * torch.tanh(c_next)
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
            h = x.new_zeros((x.shape[0], H))
        x_r = F.linear(x, _block(self.weight_ih, 0, H), _block(self.bias_ih, 0, H))
        x_z = F.linear(x, _block(self.weight_ih, 1, H), _block(self.bias_ih, 1, H))
        x_n = F.linear(x, _block(self.weight_ih, 2, H), _block(self.bias_ih, 2, H))
        h_r = F.linear(h, _block(self.weight_hh, 0, H), _block(self.bias_hh, 0, H))
        h_z = F.linear(h, _block(self.weight_hh, 1, H), _block(self.bias_hh, 1, H))
        h_n = F.linear(h, _block(self.weight_hh, 2, H), _block(self.bias_hh, 2, H))
        reset = torch.sigmoid(x_r + h_r)
        update = torch.sigmoid(x_z + h_z)
        candidate = torch.tanh(x_n + reset * h_n)
        return update * h + (1.0 - update) * candidate


class LSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size, bias=bias)

    def forward(self, x, state=None):
        batch, steps, _ = x.shape
        output = torch.zeros(batch, steps, self.hidden_size, dtype=x.dtype, device=x.device)
        if state is None:
            h = torch.zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device)
            c = torch.zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            h, c = state
        for t in range(steps):
            h, c = self.cell(x[:, t, :], (h, c))
            output[:, t, :] = h
        return output, (h, c)
