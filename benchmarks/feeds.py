"""Real data for the canonical models, through genjax's grain pipeline (benchmarks/suite.py).

Text is Tiny Shakespeare, images MNIST, audio the Free Spoken Digit Dataset (8 kHz), all from GENJAX_DATA_DIR,
read by each model's own task and modality exactly as training reads them (WaveGAN 8,192-sample clips, the
sample RNN 1,025-sample crops with their masks).
"""

from genjax.data import pipeline

AUDIO_RATE = 8000


def batches(name, config, task, seed=0):
  """Endless shuffled numpy batches of the model's training data, as the trainer reads them."""
  data = task.load_data(config)
  return pipeline.train_iterator(data.train, data.transform, config.batch_size, seed, threads=config.data_threads)


def drain(iterator, n):
  """Examples in n batches pulled from `iterator` (the model's share of its data pipeline's work)."""
  return sum(len(next(iter(b.values()))) for b in (next(iterator) for _ in range(n)))
