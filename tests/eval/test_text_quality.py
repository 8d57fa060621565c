import random

import pytest

from genjax.eval import text_quality as tq

SHAKESPEARE = ("First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. First Citizen: You "
               "are all resolved rather to die than to famish? All: Resolved. resolved.") * 5


def corrupt(text, share, seed=0):
  rng = random.Random(seed)
  return "".join(rng.choice("qxzjkv#") if rng.random() < share else c for c in text)


def test_ngram_jsd_is_zero_for_identical_corpora_and_grows_with_corruption():
  lines = [SHAKESPEARE[i:i + 40] for i in range(0, len(SHAKESPEARE) - 40, 40)]
  same = tq.ngram_jsd(lines, lines)
  assert all(v == pytest.approx(0.0, abs=1e-12) for v in same.values()) and set(same) == {
      "jsd_1gram", "jsd_2gram", "jsd_3gram", "jsd_4gram"}
  for n in tq.ORDERS:
    values = [tq.ngram_jsd([corrupt(t, share) for t in lines], lines)[f"jsd_{n}gram"] for share in (0.05, 0.2, 0.5)]
    assert 0 < values[0] < values[1] < values[2] <= 1
  assert tq.jsd({"ab": 3}, {"cd": 1}) == pytest.approx(1.0)  # disjoint supports: the maximum, 1 bit


def test_word_share_counts_words_found_in_the_training_text():
  vocabulary = set(tq.words([SHAKESPEARE]))
  assert tq.word_share(["Speak, speak: you are resolved!"], vocabulary) == 1.0
  assert tq.word_share(["speak qzxv famish blorp"], vocabulary) == 0.5
  assert tq.word_share(["!!! ,,,"], vocabulary) == 0.0


GOOD_5 = "床前明月光，疑是地上霜。"
GOOD_7 = "朝辞白帝彩云间，千里江陵一日还。"


@pytest.mark.parametrize("line,form", [(GOOD_5, 5), (GOOD_7, 7), ("床前明月光，疑是地上霜", None),
                                       ("床前明月，疑是地上霜。", None), ("床前明月光。疑是地上霜，", None),
                                       ("床前明月光,疑是地上霜.", None), ("abcde，fghij。", None), ("", None)])
def test_couplet_form(line, form):
  assert tq.couplet_form(line) == form


def test_poems_pass_only_in_one_regular_form():
  assert tq.poem_passes(f"{GOOD_5}\n{GOOD_5}", titled=False)
  assert tq.poem_passes(f"静夜思\n{GOOD_5}\n{GOOD_5}", titled=True)
  assert not tq.poem_passes(f"{GOOD_5}\n{GOOD_7}", titled=False)  # mixed forms
  assert not tq.poem_passes(f"静夜思\n{GOOD_5}\n床前明月光", titled=True)  # a broken line
  assert not tq.poem_passes("静夜思", titled=True)  # a title alone
  # A char-RNN's running text: poems end at a blank line; the one the sample length cut off is not counted.
  sample = f"静夜思\n{GOOD_5}\n{GOOD_5}\n\n早发白帝城\n{GOOD_7}\n{GOOD_5}\n\n春晓\n春眠不觉"
  assert tq.format_pass_rate([sample], whole=False, titled=True) == (0.5, 2)
  assert tq.format_pass_rate([GOOD_5, GOOD_7, "床前明月光"], whole=True, titled=False) == (pytest.approx(2 / 3), 3)
