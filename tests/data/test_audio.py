"""The audio data layer: decoding, resampling and bad files (sources), crops, mu-law and features (audio)."""

import jax
import numpy as np
import pytest
import soundfile
from PIL import Image

from genjax.data import audio, sources
from genjax.errors import UserError

RATE = 8000
PCM_STEP = 1 / 32768  # one 16-bit level


def tone(freq, rate, seconds=0.5, amp=0.5):
  t = np.arange(int(rate * seconds)) / rate
  return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x, rate):
  spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
  return np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()], rate / len(x)  # (peak, bin width)


def manifest(folder, *rows, header="file\tdigit\tsplit"):
  (folder / "MANIFEST.tsv").write_text("\n".join([header, *rows]) + "\n")


def user_error(fn, *args, **kwargs):
  """The message of the UserError fn raises, checked to be one line with no Python reprs in it."""
  with pytest.raises(UserError) as e:
    fn(*args, **kwargs)
  msg = str(e.value)
  assert "\n" not in msg and "PosixPath" not in msg, msg
  return msg


def test_mu_law_round_trip_error_bound():
  # Encoding rounds y = ln(1 + mu|x|) / ln(1 + mu) to levels 2/mu apart, so |y - y_hat| <= 1/mu. Decoding maps
  # that back through x = ((1 + mu)^|y| - 1) / mu, where a step of 1/mu in y is at most
  # (1/mu + |x|) * ((1 + mu)^(1/mu) - 1): with mu = 255 about 2.2% of |x| plus 8.6e-5 -- 0.022 at |x| = 1,
  # under 1e-4 near 0.
  mu = 255
  x = np.linspace(-1, 1, 20_001)
  err = np.abs(audio.mu_law_decode(audio.mu_law_encode(x)) - x)
  bound = (1 / mu + np.abs(x)) * ((1 + mu) ** (1 / mu) - 1) + 1e-6
  assert (err <= bound).all()
  assert err[np.abs(x) < 1e-3].max() < 1e-4 and 0.01 < err.max() < 0.0221
  codes = audio.mu_law_encode(x)
  assert codes.min() == 0 and codes.max() == 255
  np.testing.assert_array_equal(jax.jit(audio.mu_law_encode_jnp)(x), codes)  # same codes inside jit
  np.testing.assert_allclose(audio.mu_law_decode_jnp(codes), audio.mu_law_decode(codes), atol=1e-6)


def test_wav_write_read_round_trip_within_one_pcm_step(tmp_path):
  x = np.concatenate([[-1.0, 1.0, 0.0], np.random.default_rng(0).uniform(-1, 1, 2000)]).astype(np.float32)
  path = str(tmp_path / "x.wav")
  assert audio.write_wav(path, x, RATE) == path
  assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]  # no .tmp left behind
  assert soundfile.info(path).subtype == "PCM_16"
  y = sources.read_audio(path, RATE)
  assert y.dtype == np.float32 and y.shape == x.shape
  assert np.abs(y - x).max() <= PCM_STEP  # round(x * 32768), clipped to int16; read back as k / 32768


def test_resampling_keeps_a_tone_and_refusing_names_the_fix(tmp_path):
  path = tmp_path / "a440.wav"
  audio.write_wav(path, tone(440, 16_000, seconds=1.0), 16_000)
  y = sources.read_audio(path, RATE)
  assert abs(len(y) - RATE) <= 1
  peak, width = peak_hz(y, RATE)
  assert abs(peak - 440) <= width
  msg = user_error(sources.read_audio, path, RATE, on_mismatch="refuse")
  assert str(path) in msg and "16000 Hz" in msg and "8000 Hz" in msg
  assert "--config.data.rate=16000" in msg and "--config.data.on_rate_mismatch=resample" in msg


def test_flac_and_ogg_decode(tmp_path):
  x = tone(300, RATE)
  soundfile.write(tmp_path / "a.flac", x, RATE, subtype="PCM_16")
  assert np.abs(sources.read_audio(tmp_path / "a.flac", RATE) - x).max() <= PCM_STEP
  soundfile.write(tmp_path / "a.ogg", x, RATE, format="OGG", subtype="VORBIS")
  y = sources.read_audio(tmp_path / "a.ogg", RATE)  # lossy: the tone survives
  assert abs(peak_hz(y, RATE)[0] - 300) <= 2 * peak_hz(y, RATE)[1]


def test_stereo_is_downmixed_to_the_mean_or_refused(tmp_path):
  left, right = tone(300, RATE), tone(700, RATE, amp=0.25)
  soundfile.write(tmp_path / "st.wav", np.stack([left, right], 1), RATE, subtype="PCM_16")
  y = sources.read_audio(tmp_path / "st.wav", RATE)
  assert y.ndim == 1 and np.abs(y - (left + right) / 2).max() <= PCM_STEP
  msg = user_error(sources.read_audio, tmp_path / "st.wav", RATE, stereo="refuse")
  assert "st.wav has 2 channels" in msg and "--config.data.stereo=downmix" in msg


def bad_files(folder):
  """file name -> what read_audio must say about it."""
  folder.mkdir(exist_ok=True)
  (folder / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(2000))
  (folder / "notes.txt").write_text("a note, not audio\n")
  audio.write_wav(folder / "whole.wav", tone(300, RATE), RATE)
  raw = (folder / "whole.wav").read_bytes()
  (folder / "half.wav").write_bytes(raw[:len(raw) // 2])
  (folder / "whole.wav").unlink()
  audio.write_wav(folder / "zero.wav", np.zeros(0), RATE)
  return {"corrupt.wav": "not a readable audio file", "notes.txt": "not a readable audio file",
          "half.wav": "truncated", "zero.wav": "zero-length", "missing.wav": "does not exist"}


def test_bad_files_are_user_errors_naming_the_file(tmp_path):
  for name, reason in bad_files(tmp_path).items():
    msg = user_error(sources.read_audio, tmp_path / name, RATE)
    assert str(tmp_path / name) in msg and reason in msg, msg


def test_truncated_wav_decodes_partly_in_soundfile_and_is_refused(tmp_path):
  bad_files(tmp_path)
  # libsndfile itself opens a WAV cut in half without an error and returns the frames that are there (its
  # header log notes "data : N (should be M)"): the clip would silently lose its second half.
  assert len(soundfile.read(tmp_path / "half.wav")[0]) < len(tone(300, RATE)) // 2
  msg = user_error(sources.read_audio, tmp_path / "half.wav", RATE)
  assert "is truncated: its header declares 8000 bytes of audio, the file holds 3978" in msg


def test_wav_folder_bad_rows_stop_the_load_or_are_skipped_and_counted(tmp_path):
  reasons = bad_files(tmp_path)
  audio.write_wav(tmp_path / "good.wav", tone(300, RATE), RATE)
  for name in reasons:
    manifest(tmp_path, "good.wav\t1\ttrain", f"{name}\t2\ttrain")
    msg = user_error(sources.wav_folder, tmp_path, "train", RATE)
    assert str(tmp_path / name) in msg and reasons[name] in msg and "--config.data.on_bad=skip" in msg, msg
  manifest(tmp_path, "good.wav\t1\ttrain", *(f"{name}\t2\ttrain" for name in reasons))
  src = sources.wav_folder(tmp_path, "train", RATE, on_bad="skip")
  assert len(src) == 1 and src[0]["label"] == 1
  assert [f for f, _ in src.skipped] == list(reasons) and all(r for _, r in src.skipped)
  summary = sources.skipped_summary(src.skipped, 6, first=2)
  assert summary.startswith("skipped 5 of 6 audio files: corrupt.wav (") and summary.endswith("and 3 more")
  manifest(tmp_path, *(f"{name}\t2\ttrain" for name in reasons))
  assert "none of the 5 files" in user_error(sources.wav_folder, tmp_path, "train", RATE, on_bad="skip")


def test_wav_folder_splits_labels_and_refusals(tmp_path):
  audio.write_wav(tmp_path / "a.wav", tone(300, RATE), RATE)
  audio.write_wav(tmp_path / "b.wav", tone(300, RATE, seconds=0.25), RATE)
  audio.write_wav(tmp_path / "fast.wav", tone(300, 16_000), 16_000)
  manifest(tmp_path, "a.wav\t3\ttrain", "b.wav\t4\ttest", "fast.wav\t5\ttrain")
  train = sources.wav_folder(tmp_path, "train", RATE)
  assert len(train) == 2 and train.arrays["label"].tolist() == [3, 5] and train.skipped == []
  assert train.arrays["audio"].dtype == object and len(train[1]["audio"]) == RATE // 2  # resampled
  msg = user_error(sources.wav_folder, tmp_path, "train", RATE, on_rate_mismatch="refuse", on_bad="skip")
  assert "fast.wav is sampled at 16000 Hz" in msg  # a refusal is the user's choice: never skipped
  manifest(tmp_path, "a.wav", "b.wav", header="file")  # no split column: every split; no label column: -1
  src = sources.wav_folder(tmp_path, "test", RATE)
  assert len(src) == 2 and src.arrays["label"].tolist() == [-1, -1]
  manifest(tmp_path, "a.wav\t7", "b.wav\t8", header="file\tlabel")
  assert sources.wav_folder(tmp_path, "train", RATE).arrays["label"].tolist() == [7, 8]


def test_a_file_where_a_folder_is_expected(tmp_path):
  (tmp_path / "x.gz").write_bytes(b"")
  msg = user_error(sources.mnist, tmp_path / "x.gz", "train")
  assert msg.startswith(f"{tmp_path / 'x.gz'} is a file; data.path must be a folder holding the four MNIST IDX")
  msg = user_error(sources.mnist, tmp_path, "test")
  assert "lacks t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz" in msg
  msg = user_error(sources.wav_folder, tmp_path / "x.gz", "train", RATE)
  assert msg == f"{tmp_path / 'x.gz'} is a file; data.path must be a folder holding MANIFEST.tsv and the audio files"


def clips(*arrays):
  out = np.empty(len(arrays), object)
  out[:] = [np.asarray(a, np.float32) for a in arrays]
  return out


def test_eval_transform_centre_crops_pads_and_masks_exactly_the_real_samples():
  fn = audio.transform(10, train=False)
  out = fn({"audio": clips(np.arange(20), np.arange(1, 5)), "label": np.array([7, 2])})
  np.testing.assert_array_equal(out["audio"][0], np.arange(5, 15))  # (20 - 10) // 2 = 5
  np.testing.assert_array_equal(out["audio"][1], [1, 2, 3, 4] + [0] * 6)
  np.testing.assert_array_equal(out["mask"], [[1] * 10, [1] * 4 + [0] * 6])
  assert out["label"].tolist() == [7, 2] and out["label"].dtype == np.int32
  assert out["audio"].dtype == out["mask"].dtype == np.float32
  assert set(fn({"audio": clips(np.ones(4))})) == {"audio", "mask"}


def test_train_transform_draws_its_crops_from_the_rng():
  fn = audio.transform(10, train=True)
  batch = {"audio": clips(*[np.arange(1, 101)] * 4)}
  first = lambda rng: (fn(batch, rng)["audio"][:, 0] - 1).tolist()  # the crop starts
  assert fn.random and first(np.random.default_rng(0)) == first(np.random.default_rng(0))
  assert len({s for seed in range(5) for s in first(np.random.default_rng(seed))}) > 5
  for n in (1, 9, 10, 11, 1000):
    out = fn({"audio": clips(np.ones(n))}, np.random.default_rng(n))
    assert out["audio"].shape == out["mask"].shape == (1, 10) and out["mask"].sum() == min(n, 10)
    assert out["audio"].sum() == min(n, 10)  # the mask marks exactly the real samples


def test_normalization_scales_the_whole_clip_before_the_crop():
  clip = np.array([0.1, -0.2, 0.05, 0.0], np.float32)
  norm = lambda c, how, length=4: audio.transform(length, normalize=how)({"audio": clips(c),
                                                                          "gain": audio.gains([c], how)})
  assert np.abs(norm(clip, "peak")["audio"]).max() == pytest.approx(0.95)
  assert np.sqrt(np.mean(norm(clip, "rms")["audio"] ** 2)) == pytest.approx(0.1, rel=1e-5)
  loud = np.array([1.0] + [0.0] * 999, np.float32)  # RMS 0.03: scaled by 3.2, then clipped
  assert norm(loud, "rms", 1000)["audio"].max() == 1.0
  np.testing.assert_array_equal(norm(np.zeros(5), "peak", 5)["audio"][0], np.zeros(5))  # silence: unchanged
  np.testing.assert_array_equal(norm(clip, "none")["audio"][0], clip)
  # The level is the whole clip's: a quiet centre crop of a clip with a loud end keeps its level.
  quiet_centre = np.array([0.9] + [0.1] * 8 + [0.9], np.float32)
  assert norm(quiet_centre, "peak", 2)["audio"].max() == pytest.approx(0.1 * 0.95 / 0.9)
  assert "must be one of peak, rms, none" in user_error(audio.gains, [clip], "loud")
  assert "must be one of peak, rms, none" in user_error(audio.transform, 8, normalize="loud")


def test_log_mel_shapes_and_a_tone_peaks_in_its_band():
  x = np.stack([tone(1000, RATE, 1.0), tone(300, RATE, 1.0)])
  feats = np.asarray(audio.log_mel(x, RATE))
  assert feats.shape == (2, 1 + RATE // 128, 40) and feats.dtype == np.float32
  edges = audio.mel_band_edges(RATE, 40)
  for f, spec in zip((1000, 300), feats):
    band = spec[5:-5].mean(0).argmax()  # band i spans edges[i] to edges[i + 2]
    assert edges[band] < f < edges[band + 2], (f, band, edges[band:band + 3])
  one = jax.jit(lambda a: audio.log_mel(a, RATE, mels=20))(x[0, :1024])  # unbatched, nested in a jit
  assert one.shape == (9, 20)
  np.testing.assert_allclose(one, audio.log_mel(x[:, :1024], RATE, mels=20)[0], atol=1e-3)


def test_spectrogram_png_stacks_clips_low_frequencies_at_the_bottom(tmp_path):
  path = str(tmp_path / "spec.png")
  assert audio.spectrogram_png([tone(300, RATE), tone(3000, RATE, 0.25)], RATE, path) == path
  assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.png"]
  image = np.asarray(Image.open(path))
  frames = 1 + RATE // 2 // 128
  assert image.shape == (2 * 40 * 3 + 1, frames * 3)
  low, high = image[:120], image[121:]
  assert low.mean(1).argmax() > 90 and high.mean(1).argmax() < 30  # 300 Hz near the bottom, 3 kHz near the top


def test_real_fsdd_splits(shared_data):
  train = sources.wav_folder(shared_data / "fsdd", "train", RATE)
  test = sources.wav_folder(shared_data / "fsdd", "test", RATE)
  assert (len(train), len(test)) == (2700, 300) and train.skipped == test.skipped == []
  for src in (train, test):
    assert sorted(set(src.arrays["label"].tolist())) == list(range(10))
    assert all(c.dtype == np.float32 and c.ndim == 1 and len(c) and np.abs(c).max() <= 1
               for c in src.arrays["audio"])
