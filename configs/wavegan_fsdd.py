"""WaveGAN (Donahue et al. 2019) on the Free Spoken Digit Dataset: 8,192-sample clips at 8 kHz (zero padded,
random crops of the few longer clips), WGAN-GP with 5 critic updates per generator update, phase shuffle 2.

The FSDD folder is found under GENJAX_DATA_DIR (default ../shared/data) in `fsdd/`. `genjax eval` reports
IS/FID/KID of 1,000 clips on genjax's spoken-digit classifier (log-mel CNN, trained once and cached) next to
the real test clips' ceiling. Variants: `:smoke`, `:cpu` (about 35 minutes on 2 cores, a narrower model),
default (the paper's d = 64).
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("wavegan_fsdd", common.check_variant(arg), "gan", "audio")
  c.model.update(arch="wavegan", d=64, z=100, phase_shuffle=2)
  c.data.length = 8192
  c.gan.update(loss="wgan_gp", gp_weight=10.0, n_critic=5, ema=0.999)
  c.optim.update(lr=1e-4, b1=0.5, b2=0.9)
  c.batch_size, c.steps = 320, 100_000  # 5 critic updates of 64 clips, then one generator update of 64
  c.sample.n = 16
  c.eval_batches, c.eval_quality_periodic = 5, 500
  common.intervals(c, log=100, evaluate=2500, sample=2500, ckpt=2500)
  if arg == "cpu":
    c.model.d = 16
    c.batch_size, c.steps = 80, 1500
    c.optim.lr = 2e-4
    common.intervals(c, log=50, evaluate=500, sample=500, ckpt=250)
  elif arg == "smoke":
    c.model.update(d=4, z=8)
    c.data.length = 1024
    c.gan.n_critic = 1  # the n_critic loop is tested on the image GAN; one critic update halves the compile
    c.batch_size, c.sample.n = 16, 2
    common.smoke(c)
  return common.lock(c)
