import numpy as np
import pytest

from genjax.eval import sample_quality as sq


def gaussian(n, d=8, shift=0.0, seed=0):
  return np.random.default_rng(seed).normal(shift, 1.0, (n, d))


def test_fid_of_a_set_against_itself_is_zero_and_grows_with_noise():
  feats = gaussian(2000)
  assert sq.fid(feats, feats) == pytest.approx(0.0, abs=1e-6)
  noise = np.random.default_rng(1).normal(size=feats.shape)
  values = [sq.fid(feats, feats + s * noise) for s in (0.1, 0.5, 1.0)]
  assert 0 < values[0] < values[1] < values[2]


def test_fid_matches_the_closed_form_for_gaussians():
  # Means differ by 1 in each of 8 dims, covariances equal: FID -> 8 as N grows.
  assert sq.fid(gaussian(20000, seed=0), gaussian(20000, shift=1.0, seed=1)) == pytest.approx(8.0, rel=0.03)
  # Same mean, variance 1 vs 4 in 8 dims: 8 * (1 + 4 - 2 * 2) = 8.
  b = np.random.default_rng(2).normal(0, 2.0, (20000, 8))
  assert sq.fid(gaussian(20000), b) == pytest.approx(8.0, rel=0.05)


def test_kid_is_unbiased_on_one_gaussian_and_positive_between_two():
  same = [sq.kid(gaussian(200, seed=s), gaussian(200, seed=100 + s), subsets=5, subset_size=200)[0]
          for s in range(20)]
  assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same))  # centred on 0, not biased upwards
  assert min(same) < 0 < max(same)
  apart = sq.kid(gaussian(500), gaussian(500, shift=0.5, seed=3), subsets=5, subset_size=500)[0]
  assert apart > 10 * np.std(same)


def test_inception_score_bounds():
  confident_and_diverse = np.eye(10)[np.arange(1000) % 10] * 50.0
  assert sq.inception_score(confident_and_diverse)[0] == pytest.approx(10.0, rel=1e-3)
  one_class = np.tile(np.eye(10)[0] * 50.0, (1000, 1))
  assert sq.inception_score(one_class)[0] == pytest.approx(1.0, abs=1e-3)
  uniform = np.zeros((1000, 10))
  assert sq.inception_score(uniform)[0] == pytest.approx(1.0, abs=1e-6)


def test_class_balance_is_zero_for_the_same_mix_and_one_for_disjoint_classes():
  real = np.eye(10)[np.arange(1000) % 10]
  same = sq.class_balance(real[::-1] * 3.0, real)
  assert same["class_tv"] == pytest.approx(0.0) and same["class_share_7"] == pytest.approx(0.1)
  only_ones = sq.class_balance(np.tile(np.eye(10)[1], (50, 1)), real)
  assert only_ones["class_tv"] == pytest.approx(0.9) and only_ones["class_share_1"] == 1.0
  half = np.eye(10)[np.arange(1000) % 5]  # classes 0-4 only: half the real mass is missing
  assert sq.class_balance(half, real)["class_tv"] == pytest.approx(0.5)
