"""Char LSTM on Tang poetry (唐诗三百首 + the first chunks of 全唐诗, chinese-poetry JSON).

Each poem becomes `title\n` + its lines + a blank line; the vocabulary is the training split's code points.
The Shakespeare recipe with a wider embedding for the 5.4k-symbol vocabulary. Variants: `:smoke`, `:cpu`,
default.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.sibling(__file__, "char_rnn_shakespeare").recipe(arg, "char_rnn_tang_poetry")
  c.data.update(source="tang_poetry", path="chinese-poetry")
  c.model.embed = 256 if arg != "smoke" else 16
  if arg == "cpu":  # the 5.4k-symbol softmax makes a step ~3x dearer than English: fewer steps, same ~10 min
    c.steps, c.eval_every, c.ckpt_every, c.sample_every = 600, 200, 200, 600
  return common.lock(c)
