"""Sentence VAE on Tang poetry couplets (one 五言 or 七言 couplet, with its punctuation, per example).

The Shakespeare recipe over poem lines without titles; lines longer than 16 characters (irregular forms)
are dropped with a count, and a wider embedding serves the 5k-symbol vocabulary. The form is learned, not
imposed: `genjax eval` reports the share of samples that are a regular couplet (`format_pass`) beside real
lines'. Variants: `:smoke`, `:cpu`, default.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.sibling(__file__, "sentence_vae_shakespeare").recipe(arg, "sentence_vae_tang_poetry")
  c.data.update(source="tang_poetry", path="chinese-poetry", titles=False, seq_len=16, long_lines="drop")
  c.model.embed = 256 if arg != "smoke" else 16
  return common.lock(c)
