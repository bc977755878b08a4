"""rnn, loop style: explicit Python loops over the batch with torch.mv per sample, gates sliced by index; LSTM loops over range(T)."""
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
        H = self.hidden_size
        hs, cs = [], []
        for b in range(x.shape[0]):
            if state is None:
                h_b = torch.zeros(H, dtype=x.dtype, device=x.device)
                c_b = torch.zeros(H, dtype=x.dtype, device=x.device)
            else:
                h_b, c_b = state[0][b], state[1][b]
            a = torch.mv(self.weight_ih, x[b]) + torch.mv(self.weight_hh, h_b)
            if self.bias_ih is not None:
                a = a + self.bias_ih + self.bias_hh
            i = torch.sigmoid(a[0:H])
            f = torch.sigmoid(a[H:2 * H])
            g = torch.tanh(a[2 * H:3 * H])
            o = torch.sigmoid(a[3 * H:])
            c_new = f * c_b + i * g
            hs.append(o * torch.tanh(c_new))
            cs.append(c_new)
        return torch.stack(hs), torch.stack(cs)


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
        rows = []
        for b in range(x.shape[0]):
            h_b = torch.zeros(H, dtype=x.dtype, device=x.device) if h is None else h[b]
            gi = torch.mv(self.weight_ih, x[b])
            gh = torch.mv(self.weight_hh, h_b)
            if self.bias_ih is not None:
                gi = gi + self.bias_ih
                gh = gh + self.bias_hh
            r = torch.sigmoid(gi[:H] + gh[:H])
            z = torch.sigmoid(gi[H:2 * H] + gh[H:2 * H])
            n = torch.tanh(gi[2 * H:] + r * gh[2 * H:])
            rows.append((1 - z) * n + z * h_b)
        return torch.stack(rows, dim=0)


class LSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size, bias=bias)

    def forward(self, x, state=None):
        T = x.shape[1]
        h_list = []
        for t in range(T):
            h, c = self.cell(x[:, t], state)
            state = (h, c)
            h_list.append(h)
        output = torch.stack(h_list, dim=1)
        return output, state
