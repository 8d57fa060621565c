"""The judge behind text sample scores: a char-LSTM genjax trains on the training split's text and caches.

A sample's judge score is its mean NLL per character under this model (nats), set beside the validation
text's: a score near the real one means text the judge finds as plausible as real text, whatever model made
it, so char-RNNs, VAEs and GANs compare on one scale. Cached like the image classifier (GENJAX_CACHE_DIR),
under a name with the training text's fingerprint, the vocabulary size and the training steps.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genjax.eval import classifier
from genjax.models import rnn
from genjax.tasks import common

EMBED, HIDDEN, WINDOW, BATCH, LR = 64, 256, 64, 64, 3e-3
SCORE_BATCH, PAD_TO = 512, 64  # texts scored at once at most; rows and lengths round up to multiples of PAD_TO


def _model(vocab_size):
  return common.PureModel(lambda rngs: rnn.CharRNN(vocab_size, EMBED, HIDDEN, 1, "lstm", rngs=rngs))


def _nll(model, params, tokens, mask):
  """Summed NLL of tokens[:, 1:] given what precedes them, over mask[:, 1:]."""
  logits, _ = model.bind(params)(tokens[:, :-1])
  nll = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), tokens[:, 1:])
  return (nll * mask[:, 1:]).sum()


def train(ids, vocab_size, steps, seed=0):
  """Adam on random windows of the training ids; returns (params, info)."""
  model = _model(vocab_size)
  tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(LR))
  params = model.init(jax.random.PRNGKey(seed))
  opt = tx.init(params)

  @jax.jit
  def step(params, opt, tokens):
    loss, grads = jax.value_and_grad(lambda p: _nll(model, p, tokens, jnp.ones(tokens.shape)))(params)
    updates, opt = tx.update(grads, opt)
    return optax.apply_updates(params, updates), opt, loss / (tokens.shape[0] * (tokens.shape[1] - 1))

  rng = np.random.default_rng(seed)
  loss = jnp.zeros(())
  for _ in range(steps):
    starts = rng.integers(0, len(ids) - WINDOW - 1, BATCH)
    params, opt, loss = step(params, opt, jnp.asarray(np.stack([ids[s:s + WINDOW + 1] for s in starts])))
  return params, {"steps": steps, "last_train_loss": float(loss)}


class Judge:
  """Mean NLL per character (nats) of texts, each read after a newline as a char-RNN sample is."""

  def __init__(self, vocab, params):
    self.vocab, self.params = vocab, params
    model = _model(len(vocab))
    self._nll = jax.jit(lambda p, t, m: _nll(model, p, t, m))

  def score(self, texts):
    start = self.vocab.index.get("\n", 0)
    total, chars = 0.0, 0
    for i in range(0, len(texts), SCORE_BATCH):
      part = [self.vocab.encode(t) for t in texts[i:i + SCORE_BATCH]]
      rows, width = (-(-k // PAD_TO) * PAD_TO for k in (len(part), max(len(p) for p in part) + 1))  # few compiles
      tokens = np.full((rows, width), start, np.int32)
      mask = np.zeros((rows, width), np.float32)
      for row, ids in enumerate(part):
        tokens[row, 1:1 + len(ids)], mask[row, 1:1 + len(ids)] = ids, 1.0
      total += float(self._nll(self.params, jnp.asarray(tokens), jnp.asarray(mask)))
      chars += int(mask.sum())
    return total / max(chars, 1)


def load_or_train(fingerprint, vocab, train_ids, steps, log=print):
  """The cached judge for this training text and vocabulary, training it first (on `train_ids()`, encoded
  only then) if there is none."""
  name = f"judge-{fingerprint[:16]}-v{len(vocab)}-{steps}steps"
  params, _ = classifier.cached(name, lambda: train(train_ids(), len(vocab), steps), "text judge (a char-LSTM)",
                                log)
  return Judge(vocab, params)
