"""Training of AL Appendix B's appearance-code LSTM (:class:`~.appearance_lstm.AppearanceLSTM`) on a codebook's
appearance sequences: next-code prediction with teacher forcing (``cinescape codebook --model DIR --train-lstm``)."""

from __future__ import annotations

import math

import torch

from ...errors import ModelLoadError
from .appearance_lstm import AppearanceLSTM, AppearanceLSTMConfig

WINDOW = 48   # codes per training window: any code can start a sequence, as the photo's own code does


def _padded(sequences: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences (T_i, D) -> (N, T_max, D) zero-padded and a (N, T_max) validity mask."""
    longest = max(s.shape[0] for s in sequences)
    codes = torch.zeros(len(sequences), longest, sequences[0].shape[1])
    valid = torch.zeros(len(sequences), longest)
    for i, seq in enumerate(sequences):
        codes[i, :seq.shape[0]] = seq
        valid[i, :seq.shape[0]] = 1
    return codes, valid


def next_code_loss(model: AppearanceLSTM, codes: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Teacher-forced next-code error: mean squared difference, in standardised units, between the predictions
    after ``codes[:, :-1]`` and ``codes[:, 1:]``, on valid pairs. codes (B, T, D), valid (B, T)."""
    predicted, _ = model(codes[:, :-1])
    pair = valid[:, 1:] * valid[:, :-1]
    error = (((predicted - codes[:, 1:]) / model.std) ** 2).mean(-1)
    return (error * pair).sum() / pair.sum().clamp_min(1)


def appearance_lstm_loss(model: AppearanceLSTM, codebook) -> float:
    """:func:`next_code_loss` over every full sequence of ``codebook`` (the training data)."""
    sequences = [s.float() for s in codebook.appearance if s.shape[0] >= 2]
    with torch.no_grad():
        return float(next_code_loss(model, *_padded(sequences)))


def train_appearance_lstm(codebook, steps: int = 500, *, lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
                          config: AppearanceLSTMConfig | None = None) -> tuple[AppearanceLSTM, list[float]]:
    """Train the AL Appendix B LSTM on ``codebook.appearance`` (next-code prediction, teacher forcing, Adam).

    Each step takes ``batch_size`` random windows of up to :data:`WINDOW` consecutive codes. About 4 s for 500
    steps on one CPU thread (804 codes). Returns the model (eval mode) and the loss of every step.
    """
    sequences = [s.float() for s in codebook.appearance if s.shape[0] >= 2]
    if not sequences:
        raise ModelLoadError("the model's codebook has no appearance sequences of two or more codes to train on; "
                             "rebuild it with `cinescape codebook --appearance-data ...`")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    everything = torch.cat(sequences)
    if config is None:
        config = AppearanceLSTMConfig(latent_dim=everything.shape[1],
                                      sequence_length=max(2, round(everything.shape[0] / len(sequences))))
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AppearanceLSTM(config)
    model.mean.copy_(everything.mean(0))
    model.std.copy_(everything.std(0).clamp_min(1e-3) if everything.shape[0] > 1 else torch.ones(config.latent_dim))
    model.low.copy_(everything.amin(0))
    model.high.copy_(everything.amax(0))
    # windows are drawn in proportion to how many they can start, so long clips are not under-represented
    lengths = torch.tensor([s.shape[0] for s in sequences], dtype=torch.float64)
    weights = lengths - 1
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    with torch.enable_grad():
        for _ in range(steps):
            picks = torch.multinomial(weights, batch_size, replacement=True, generator=generator).tolist()
            windows = []
            for i in picks:
                seq = sequences[i]
                size = min(WINDOW, seq.shape[0])
                first = int(torch.randint(0, seq.shape[0] - size + 1, (1,), generator=generator))
                windows.append(seq[first:first + size])
            loss = next_code_loss(model, *_padded(windows))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise RuntimeError("appearance LSTM training diverged (non-finite loss)")
    return model.eval(), losses
