"""Text sample metrics that need no model's own likelihood: character n-gram Jensen-Shannon divergence
(Gulrajani et al. 2017, section 5.2), the share of generated words the training text contains, and a format
checker for Tang poems (五言 / 七言 couplets).

Every function takes lists of strings and is plain Python: the numbers can be re-measured from a samples
.txt without genjax's models.
"""

import collections
import math
import re

ORDERS = (1, 2, 3, 4)
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
HAN = "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff"  # CJK unified ideographs, extension A, compatibility
COUPLET = {form: re.compile(f"^[{HAN}]{{{form}}}，[{HAN}]{{{form}}}。$") for form in (5, 7)}


def ngram_counts(texts, n):
  """Counts of the character n-grams inside each text (none span two texts)."""
  counts = collections.Counter()
  for t in texts:
    counts.update(t[i:i + n] for i in range(len(t) - n + 1))
  return counts


def jsd(p_counts, q_counts):
  """Jensen-Shannon divergence in bits (0 for equal distributions, 1 for disjoint) between two count tables."""
  p_total, q_total = sum(p_counts.values()), sum(q_counts.values())
  if not p_total or not q_total:
    return 1.0
  out = 0.0
  for key in p_counts.keys() | q_counts.keys():
    p, q = p_counts.get(key, 0) / p_total, q_counts.get(key, 0) / q_total
    m = 0.5 * (p + q)
    out += 0.5 * (p * math.log2(p / m) if p else 0.0) + 0.5 * (q * math.log2(q / m) if q else 0.0)
  return max(out, 0.0)


def ngram_jsd(samples, reference, orders=ORDERS):
  """{'jsd_Ngram': JSD of the samples' character N-gram distribution against the reference's}."""
  return {f"jsd_{n}gram": jsd(ngram_counts(samples, n), ngram_counts(reference, n)) for n in orders}


def words(texts):
  return [w.lower() for t in texts for w in WORD.findall(t)]


def word_share(samples, vocabulary):
  """The share of the samples' words (letters and inner apostrophes, lower-cased) in `vocabulary`."""
  found = words(samples)
  return sum(w in vocabulary for w in found) / len(found) if found else 0.0


def couplet_form(line):
  """5 or 7 for a line of two 五言 or 七言 halves ('床前明月光，疑是地上霜。'), else None."""
  return next((form for form, pattern in COUPLET.items() if pattern.match(line)), None)


def poem_passes(poem, titled):
  """A poem passes when it has at least one couplet and every line (after its title line, if `titled`) is a
  couplet of one and the same form."""
  lines = poem.strip("\n").split("\n")
  body = lines[1:] if titled else lines
  forms = {couplet_form(ln) for ln in body}
  return bool(body) and len(forms) == 1 and None not in forms


def poems(samples, whole):
  """The poems in the samples: each sample is one (`whole`, a line or a quatrain from a line model), or free
  running text from a char-RNN, whose poems end at a blank line (the piece the sample length cut is left out)."""
  if whole:
    return list(samples)
  return [piece for s in samples for piece in s.split("\n\n")[:-1] if piece.strip()]


def format_pass_rate(samples, whole, titled):
  """(share of poems that pass `poem_passes`, number of poems checked)."""
  found = poems(samples, whole)
  return (sum(poem_passes(p, titled) for p in found) / len(found) if found else 0.0), len(found)
