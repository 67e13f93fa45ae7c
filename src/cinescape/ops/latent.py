"""Latent regularisers for codes that can be drawn from a standard normal (AL Sec. 6.6: VAE and WAE options).

Codes are (B, D) tensors; the prior is N(0, I) in D dimensions.
"""

from __future__ import annotations

import torch

__all__ = ["kl_to_standard_normal", "mmd_to_standard_normal", "reparameterize"]

# Inverse multiquadratic kernel scales, as multiples of 2 D (the expected squared distance of two prior samples):
# a sum over scales keeps a useful gradient whether the codes are far from or close to the prior.
MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)), summed over the D code dimensions and averaged over the batch.

    Closed form per dimension: ``0.5 * (mean^2 + exp(log_var) - 1 - log_var)`` (Kingma and Welling 2013).

    Args:
        mean, log_var: (B, D) a diagonal Gaussian per code (natural-log variance).

    Example:
        >>> kl_to_standard_normal(torch.zeros(4, 8), torch.zeros(4, 8)).item()  # the prior itself
        0.0
    """
    return 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=1).mean()


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A differentiable sample ``mean + exp(log_var / 2) * eps``, eps ~ N(0, I); (B, D) in and out."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + (0.5 * log_var).exp() * noise


def mmd_to_standard_normal(codes: torch.Tensor, prior_samples: torch.Tensor | None = None,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Unbiased squared MMD between a batch of codes and samples of N(0, I) (WAE-MMD, Tolstikhin et al. 2017).

    The kernel is inverse multiquadratic, ``k(x, y) = C / (C + ||x - y||^2)``, summed over
    ``C = s * 2 D`` for s in :data:`MMD_SCALES`. The unbiased estimate leaves out each set's diagonal, so
    it is about 0 (and may be slightly negative) when the codes follow the prior.

    Args:
        codes: (B, D), B >= 2.
        prior_samples: (M, D), M >= 2; default B fresh samples drawn with ``generator``.

    Example:
        >>> z = torch.randn(256, 8) + 3.0                     # far from the prior
        >>> bool(mmd_to_standard_normal(z) > mmd_to_standard_normal(torch.randn(256, 8)))
        True
    """
    batch, dim = codes.shape
    if batch < 2:
        raise ValueError("the MMD needs at least 2 codes")
    if prior_samples is None:
        prior_samples = torch.randn(codes.shape, generator=generator, dtype=codes.dtype, device=codes.device)

    def kernel_sum(x: torch.Tensor, y: torch.Tensor, leave_out_diagonal: bool) -> torch.Tensor:
        distances = torch.cdist(x, y).pow(2)
        total = sum((s * 2 * dim) / (s * 2 * dim + distances) for s in MMD_SCALES)
        if leave_out_diagonal:
            count = x.shape[0]
            return (total.sum() - total.diagonal().sum()) / (count * (count - 1))
        return total.mean()

    return (kernel_sum(codes, codes, True) + kernel_sum(prior_samples, prior_samples, True)
            - 2 * kernel_sum(codes, prior_samples, False))
