"""Conv VAE on binarized MNIST (dynamic binarization for training, one fixed binarization of the test set).

The IDX files are found under GENJAX_DATA_DIR (default ../shared/data) in `mnist/`. Variants: `:smoke`,
`:cpu` (2,000 steps), default. Report the final bound with `genjax eval --workdir DIR
--config.eval_iw_samples=1000`. `--config.train_iw_samples=5` trains on the IWAE bound;
`--config.model.classes=10` makes it a conditional VAE (`genjax sample --label 3`). configs/vae_digits.py
starts from `recipe`.
"""

from genjax import config as common


def recipe(arg, name):
  c = common.experiment(name, common.check_variant(arg), "vae", "image")
  c.model.update(widths=(32, 64), latent=32)
  c.likelihood, c.kl_warmup_steps = "bernoulli", 2000
  c.optim.update(lr=1e-3, warmup_steps=500, b2=0.999)
  c.batch_size, c.steps = 128, 50_000
  c.eval_batches = 10
  common.intervals(c, log=200, evaluate=5000, sample=5000, ckpt=5000)
  if arg == "cpu":
    c.steps, c.kl_warmup_steps = 2000, 500
    c.eval_batches = 4  # one held-out bound (512 images, k=50) at the end: 5% of this 2.5-minute run
    common.intervals(c, log=100, evaluate=2000, sample=1000, ckpt=500)
  elif arg == "smoke":
    c.model.update(widths=(4, 8), latent=4)
    c.kl_warmup_steps, c.eval_iw_samples = 5, 4
    c.batch_size, c.sample.n = 16, 4
    common.smoke(c)
  return c


def get_config(arg=None):
  return common.lock(recipe(arg, "vae_mnist"))
