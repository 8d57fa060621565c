"""FID, KID and Inception Score from features and logits of a domain classifier (numpy, float64).

The formulas are the standard ones (Heusel et al. 2017; Binkowski et al. 2018; Salimans et al. 2016); the
features come from a small classifier genjax trains on the same data, so no Inception weights are needed and
numbers are comparable within genjax, not with Inception-based figures.
"""

import numpy as np


def fid(a, b):
  """Frechet distance between Gaussians fitted to feature sets a [N, D] and b [M, D]."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  mu_a, mu_b = a.mean(0), b.mean(0)
  cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  # Tr sqrt(cov_a cov_b) = sum of sqrt eigenvalues of the symmetric cov_a^1/2 cov_b cov_a^1/2: no scipy needed.
  w, v = np.linalg.eigh(cov_a)
  root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
  cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
  return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def _poly_kernel(x, y):
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(a, b, subsets=10, subset_size=1000, seed=0):
  """Kernel Inception Distance: the unbiased MMD^2 with the cubic kernel, averaged over random subsets.

  Returns (mean, standard deviation over subsets). Unbiased: for two samples of one distribution the
  expectation is 0, so small negative values happen.
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  m = min(subset_size, len(a), len(b))
  if m < 2:
    raise ValueError("KID needs at least 2 samples on each side")
  rng = np.random.default_rng(seed)
  values = []
  for _ in range(subsets):
    x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    off = m * (m - 1)
    values.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean())
  return float(np.mean(values)), float(np.std(values))


def inception_score(logits, splits=10):
  """exp(E_x KL(p(y|x) || p(y))), mean and standard deviation over `splits` chunks (Salimans et al.)."""
  logits = np.asarray(logits, np.float64)
  logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
  scores = []
  for part in np.array_split(logp, splits):
    p = np.exp(part)
    log_marginal = np.log(p.mean(0) + 1e-12)
    scores.append(np.exp((p * (part - log_marginal)).sum(1).mean()))
  return float(np.mean(scores)), float(np.std(scores))


def class_shares(logits):
  """The fraction of examples the classifier assigns (argmax) to each class: a GAN's mode balance."""
  logits = np.asarray(logits)
  return np.bincount(np.argmax(logits, -1), minlength=logits.shape[-1]) / len(logits)


def class_balance(fake_logits, real_logits):
  """`class_share_c` of the samples per class c, and `class_tv`, the total variation distance between the
  samples' and the real images' predicted-class histograms (0: the same mix of classes, 1: disjoint)."""
  fake, real = class_shares(fake_logits), class_shares(real_logits)
  return {"class_tv": float(0.5 * np.abs(fake - real).sum()),
          **{f"class_share_{c}": float(v) for c, v in enumerate(fake)}}
