"""Character-level WGAN-GP on Tang poetry couplets (16 characters: one 七言 couplet, or a 五言 one and
newline padding); irregular longer lines are dropped with a count. The form is learned: `genjax eval`
reports `format_pass` beside real lines'. Variants: `:smoke`, `:cpu`, default.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.sibling(__file__, "text_gan_shakespeare").recipe(arg, "text_gan_tang_poetry")
  c.data.update(source="tang_poetry", path="chinese-poetry", titles=False, seq_len=16, long_lines="drop")
  return common.lock(c)
