"""Real data for the canonical models, through genjax's grain pipeline (benchmarks/suite.py).

Text is Tiny Shakespeare, images MNIST, audio the Free Spoken Digit Dataset (8 kHz), all from GENJAX_DATA_DIR.
WaveGAN gets 8,192-sample float clips and the sample RNN 1,025 mu-law codes per clip: the audio transform that
the audio tasks use, cropping or padding every recording.
"""

from genjax.data import audio, pipeline, sources

MODALITY = {"char_lstm": "text", "conv_vae": "image", "dcgan": "image", "wavegan": "audio", "sample_rnn": "audio"}
AUDIO_RATE = 8000


def source_and_transform(name, config, task):
  """(random-access training source, example -> batch-shaped dict) feeding the canonical model `name`."""
  if MODALITY[name] != "audio":
    data = task.load_data(config)
    return data.train, data.transform
  clips = sources.wav_folder("fsdd", "train", AUDIO_RATE)
  if name == "wavegan":
    crop = audio.transform(config.data.shape[0])
    return clips, lambda ex: {"image": crop(ex)["audio"][:, None]}
  crop = audio.transform(config.data.seq_len + 1, codes=True)
  return clips, lambda ex: {"tokens": crop(ex)["codes"]}


def batches(name, config, task, seed=0):
  """Endless shuffled numpy batches of the model's training data, as the trainer reads them."""
  source, transform = source_and_transform(name, config, task)
  return pipeline.train_iterator(source, transform, config.batch_size, seed, threads=config.data_threads)


def drain(iterator, n):
  """Examples in n batches pulled from `iterator` (the model's share of its data pipeline's work)."""
  return sum(len(next(iter(b.values()))) for b in (next(iterator) for _ in range(n)))
