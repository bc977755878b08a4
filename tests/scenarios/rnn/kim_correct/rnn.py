"""Assignment ``rnn``: an LSTM cell, a GRU cell and an LSTM layer, written from scratch.

Every tensor shape below uses ``B`` for the batch size, ``T`` for the sequence length and ``H``
for ``hidden_size``. The parameter layout is PyTorch's, so your modules can load the weights of
``torch.nn.LSTMCell`` / ``torch.nn.GRUCell``: the gate blocks of ``weight_ih``, ``weight_hh``,
``bias_ih`` and ``bias_hh`` are stacked along dimension 0 in the order given in each class.

Do not use ``torch.nn.LSTMCell``, ``torch.nn.LSTM``, ``torch.nn.GRUCell`` or ``torch.lstm_cell`` /
``torch.gru_cell``: the graders detect them and give 0 points for the tests that use them.
"""
import math

import torch
import torch.nn as nn


class LSTMCell(nn.Module):
    r"""A long short-term memory (LSTM) cell.

    .. math::
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
        f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' = f \odot c + i \odot g \\
        h' = o \odot \tanh(c')

    Args:
        input_size: number of features of the input ``x``.
        hidden_size: number of features of the hidden state ``h`` and the cell state ``c``.
        bias: if ``False``, the cell has no ``bias_ih`` and ``bias_hh``.

    Attributes:
        weight_ih: ``[4H, input_size]``, the gate blocks in the order i, f, g, o.
        weight_hh: ``[4H, H]``, same order.
        bias_ih: ``[4H]`` (``None`` when ``bias=False``).
        bias_hh: ``[4H]`` (``None`` when ``bias=False``).
    """

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

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step.

        Args:
            x: ``[B, input_size]``.
            state: ``(h, c)``, each ``[B, H]``; zeros when ``None``.

        Returns:
            ``(h_next, c_next)``, each ``[B, H]``.
        """
        # TODO: when state is None, start from zero h and c of shape [B, H] (same dtype/device as x).
        # TODO: gates = x W_ih^T + b_ih + h W_hh^T + b_hh, a [B, 4H] tensor (skip the biases when
        #       they are None); split it into four [B, H] blocks in the order i, f, g, o.
        # TODO: i, f, o go through a sigmoid, g through tanh; then c_next = f*c + i*g and
        #       h_next = o * tanh(c_next). Do not modify x, h or c in place.
        B = x.size(0)
        if state is None:
            h = torch.zeros(B, self.hidden_size, dtype=x.dtype)
            c = torch.zeros(B, self.hidden_size, dtype=x.dtype)
        else:
            h, c = state
        z = torch.nn.functional.linear(x, self.weight_ih, self.bias_ih) + torch.nn.functional.linear(h, self.weight_hh, self.bias_hh)
        H = self.hidden_size
        i = torch.sigmoid(z[:, 0:H])
        f = torch.sigmoid(z[:, H:2 * H])
        g = torch.tanh(z[:, 2 * H:3 * H])
        o = torch.sigmoid(z[:, 3 * H:4 * H])
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c


class GRUCell(nn.Module):
    r"""A gated recurrent unit (GRU) cell, the same function as ``torch.nn.GRUCell``.

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' = (1 - z) \odot n + z \odot h

    Args:
        input_size: number of features of the input ``x``.
        hidden_size: number of features of the hidden state ``h``.
        bias: if ``False``, the cell has no ``bias_ih`` and ``bias_hh``.

    Attributes:
        weight_ih: ``[3H, input_size]``, the gate blocks in the order r, z, n.
        weight_hh: ``[3H, H]``, same order.
        bias_ih: ``[3H]`` (``None`` when ``bias=False``).
        bias_hh: ``[3H]`` (``None`` when ``bias=False``).
    """

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

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One time step.

        Args:
            x: ``[B, input_size]``.
            h: ``[B, H]``; zeros when ``None``.

        Returns:
            ``h_next``: ``[B, H]``.
        """
        # TODO: when h is None, start from a zero h of shape [B, H].
        # TODO: compute gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh separately (each [B, 3H])
        #       and split each into r, z, n blocks: the reset gate r multiplies only the hidden
        #       part of n, *after* the matrix product and its bias.
        # TODO: r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
        #       h_next = (1 - z) * n + z * h.
        if h is None:
            h = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype)
        gi = torch.nn.functional.linear(x, self.weight_ih, self.bias_ih)
        gh = torch.nn.functional.linear(h, self.weight_hh, self.bias_hh)
        H = self.hidden_size
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h


class LSTM(nn.Module):
    """A single-layer LSTM over a batch-first sequence, built on :class:`LSTMCell`.

    The same function as ``torch.nn.LSTM(input_size, hidden_size, bias=bias, batch_first=True)``
    with one layer, when both hold the same weights.

    Args:
        input_size: number of features of each input step.
        hidden_size: number of hidden features ``H``.
        bias: passed on to the cell.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size, bias=bias)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run the cell over every time step.

        Args:
            x: ``[B, T, input_size]`` (batch first).
            state: initial ``(h_0, c_0)``, each ``[B, H]``; zeros when ``None``.

        Returns:
            ``(output, (h_n, c_n))``: ``output`` is ``[B, T, H]`` and holds the hidden state of
            every step; ``h_n`` and ``c_n`` are ``[B, H]``, the state after the last step.
        """
        # TODO: loop over the time dimension (dim 1 of x), feeding x[:, t] and the current
        #       state to self.cell; collect every h and stack them into [B, T, H] along dim 1.
        #       Return the last (h, c) as well. Keep the graph: no .detach(), no in-place writes.
        hs = []
        for t in range(x.size(1)):
            state = self.cell(x[:, t, :], state)
            hs.append(state[0])
        return torch.stack(hs, 1), state
