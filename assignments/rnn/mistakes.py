"""Catalogue of known mistakes for ``rnn``: each is an edit of ``solutions/rnn.py``."""
from dlgrade.authoring.mistakes import Mistake

MISTAKES = [
    Mistake("lstm_gate_order_ifog",
            "the LSTM gates look split in the order i, f, o, g (CS231n's); the weight rows here "
            "follow PyTorch's order i, f, g, o.",
            (("i, f, g, o = gates.chunk(4, dim=1)", "i, f, o, g = gates.chunk(4, dim=1)"),)),
    Mistake("lstm_no_tanh_on_cell",
            "h_next looks like o * c_next: apply tanh to the new cell state first (h = o * tanh(c)).",
            (("h_next = o * torch.tanh(c_next)", "h_next = o * c_next"),)),
    Mistake("lstm_forget_gate_unused",
            "the forget gate looks unused: the new cell state is f * c + i * g, not c + i * g.",
            (("c_next = f * c + i * g", "c_next = c + i * g"),)),
    Mistake("lstm_sigmoid_on_candidate",
            "the cell candidate g goes through tanh, not sigmoid.",
            (("g = torch.tanh(g)", "g = torch.sigmoid(g)"),)),
    Mistake("lstm_one_bias",
            "only one of the two biases seems to be added: use both bias_ih and bias_hh.",
            (("gates = gates + self.bias_ih + self.bias_hh", "gates = gates + self.bias_ih"),)),
    Mistake("lstm_state_ignored",
            "the given state (h, c) seems to be ignored: start from zeros only when state is None.",
            (("h, c = state", "h, c = (x.new_zeros(x.shape[0], self.hidden_size),) * 2"),)),
    Mistake("lstm_detached",
            "the outputs look detached from the autograd graph (.detach(), .data, torch.no_grad or "
            "values copied out of the tensors): gradients cannot flow back.",
            (("return h_next, c_next", "return h_next.detach(), c_next.detach()"),)),
    Mistake("gru_gate_order_zrn",
            "the GRU gates look split in the order z, r, n; PyTorch's order is r, z, n.",
            (("i_r, i_z, i_n = gi.chunk(3, dim=1)", "i_z, i_r, i_n = gi.chunk(3, dim=1)"),
             ("h_r, h_z, h_n = gh.chunk(3, dim=1)", "h_z, h_r, h_n = gh.chunk(3, dim=1)"))),
    Mistake("gru_reset_before_matmul",
            "the reset gate seems applied to h before the matrix product (d2l's variant); here, "
            "as in nn.GRUCell, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).",
            (("n = torch.tanh(i_n + r * h_n)",
              "n = torch.tanh(i_n + (r * h) @ self.weight_hh[2 * self.hidden_size:].T"
              " + (0 if self.bias_hh is None else self.bias_hh[2 * self.hidden_size:]))"),)),
    Mistake("gru_z_swapped",
            "z and 1 - z look swapped: h_next = (1 - z) * n + z * h.",
            (("return (1 - z) * n + z * h", "return z * n + (1 - z) * h"),)),
    Mistake("lstm_time_major",
            "the sequence seems read time-major (x[t]); x is batch first, [B, T, input_size]: "
            "step t is x[:, t].",
            (("range(x.shape[1])", "range(x.shape[0])"),
             ("self.cell(x[:, t], state)", "self.cell(x[t], state)"))),
    Mistake("lstm_outputs_cell_state",
            "output seems to hold the cell states c_t; it should hold the hidden states h_t.",
            (("outputs.append(state[0])", "outputs.append(state[1])"),)),
]

# Inputs modified in place (a common habit: /=, +=, a method ending in _ on an argument): the
# outputs stay right; the public "does not modify ... in place" check fails and shows the hint.
IN_PLACE_MISTAKES = [
    Mistake("lstm_state_updated_in_place",
            "the given cell state c looks updated in place (c.mul_(f).add_(i * g), c *= f, c += ...): that "
            "modifies the caller's tensor. Compute c_next as a new tensor (with * and +, not *= or +=); never "
            "use *=, += or a method ending in _ on an input.",
            (("c_next = f * c + i * g", "c_next = c.mul_(f).add_(i * g)"),)),
]

MISTAKES += IN_PLACE_MISTAKES
