import numpy as np
import pytest

from genjax.data import text
from genjax.errors import UserError


def test_vocab_round_trip_english_and_chinese():
  corpus = "To be, or not to be\n秦川雄帝宅，函谷壯皇居。"
  vocab = text.Vocab.build(corpus)
  ids = vocab.encode(corpus)
  assert ids.dtype == np.int32 and len(ids) == len(corpus)
  assert vocab.decode(ids) == corpus
  assert text.Vocab(vocab.chars).decode(ids) == corpus  # rebuilt from the saved list, as sampling does


def test_vocab_from_train_split_marks_unseen_characters():
  vocab = text.Vocab.build("abc", other_text="abd")
  assert vocab.chars[-1] == text.UNK
  assert vocab.decode(vocab.encode("d")) == text.UNK
  assert text.UNK not in text.Vocab.build("abc", other_text="cab").chars
  with pytest.raises(ValueError, match="outside the vocabulary"):
    text.Vocab.build("abc").encode("abz")


def test_prompt_outside_vocabulary_is_a_user_error():
  vocab = text.Vocab.build("hello", other_text="x")
  vocab.check("hell")
  with pytest.raises(UserError, match="'z'"):
    vocab.check("hez")
  with pytest.raises(UserError):
    vocab.check(text.UNK)


def test_split_is_nanogpt_first_90_percent():
  train, val = text.split("0123456789" * 10, 0.1)
  assert len(train) == 90 and train + val == "0123456789" * 10
  with pytest.raises(UserError, match="empty"):
    text.split("", 0.1)


def test_windows_and_chunks():
  ids = np.arange(20, dtype=np.int32)
  w = text.Windows(ids, 5)
  assert len(w) == 16 and w[15]["tokens"].tolist() == [15, 16, 17, 18, 19]
  c = text.Chunks(ids, 5)
  targets = np.concatenate([c[i]["tokens"][1:] for i in range(len(c))])
  assert targets.tolist() == list(range(1, 1 + len(targets)))  # every target once, in order
  assert len(targets) == 16
  with pytest.raises(UserError, match="seq_len"):
    text.Windows(ids[:3], 5)


def test_lines_skip_empty_ones_and_handle_long_ones_per_config():
  corpus = "short line\n\n   \na line that is too long\nok\n"
  said = []
  assert text.lines(corpus, 10, "truncate", "train", said.append) == ["short line", "a line tha", "ok"]
  assert said == ["train: 3 lines; skipped 3 empty lines; 1 lines longer than 10 characters truncated"]
  assert text.lines(corpus, 10, "drop", "train", said.append) == ["short line", "ok"]
  assert said[-1].endswith("1 lines longer than 10 characters dropped")
  with pytest.raises(UserError, match=r"train line 4 has 23 characters, more than data.seq_len=10.*long_lines"):
    text.lines(corpus, 10, "refuse", "train", said.append)
  with pytest.raises(UserError, match="no non-empty lines"):
    text.lines("\n\n \n", 10, "drop", "validation", said.append)


def test_line_source_pads_with_newlines_and_masks_the_line_and_its_end():
  vocab = text.Vocab.build("ab\n")
  src = text.line_source(["ab", "b"], vocab, 4)
  nl, a, b = (vocab.index[c] for c in "\nab")
  np.testing.assert_array_equal(src[0]["tokens"], [nl, a, b, nl, nl, nl])
  np.testing.assert_array_equal(src[0]["mask"], [1, 1, 1, 1, 0, 0])
  np.testing.assert_array_equal(src[1]["mask"], [1, 1, 1, 0, 0, 0])
  assert len(src) == 2
