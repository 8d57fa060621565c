"""Conv VAE on scikit-learn's 8x8 digits (17 intensity levels) with a discretized logistic likelihood.

Reads `sklearn-digits/digits.csv.gz` under GENJAX_DATA_DIR (default ../shared/data): 1,497 training and 300
test images. `--config.likelihood=gaussian` swaps in the discretized Gaussian. Variants: `:smoke`, `:cpu`.
The MNIST VAE's recipe (configs/vae_mnist.py) with these data, batch and steps.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.sibling(__file__, "vae_mnist").recipe(arg, "vae_digits")
  c.data.update(source="digits", path="sklearn-digits", shape=(8, 8, 1), levels=17)
  c.likelihood = "logistic"
  c.batch_size = 64
  c.eval_quality_samples, c.eval_classifier_steps = 2000, 500
  if arg != "smoke":
    c.steps, c.kl_warmup_steps = (3000, 500) if arg == "cpu" else (10_000, 1000)
    c.eval_batches = 5
    c.eval_quality_periodic = 1000
  return common.lock(c)
