"""The translation corpus from the user's files, token-budget batches and fairseq's beam search, against fairseq
0.10's rules worked out by hand (dictionary ids and order, batches, BLEU) and against a plain reference beam
search on a fake model."""

import collections
import itertools
import math

import keras
import numpy as np
import pytest

from keras_losses_experiments.translation import batching, corpus

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.data")

TINY = {  # prepare-iwslt14.sh's output, shrunk: tokenized, BPE-split
    "train.de": "zz B@@ x\naa zz\naa B@@ x x\n",
    "train.en": "the c@@ at\nthe dog\na c@@ at sat\n",
    "valid.de": "x\n",
    "valid.en": "the dog\n",
    "test.de": "aa zz\nx new\n",
    "test.en": "the c@@ at sat\nthe c@@ ow\n",
}


def write(directory, files):
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_the_dictionary_is_fairseqs_special_symbols_then_units_by_count_ties_by_code_point(tmp_path):
    write(tmp_path, TINY)
    german = corpus.Dictionary.build([tmp_path / "train.de"])
    # x 3 times; B@@, aa, zz twice: code-point order puts "B@@" (0x42) before "aa" although "zz" came first.
    assert german.symbols == ["<s>", "<pad>", "</s>", "<unk>", "x", "B@@", "aa", "zz"]  # 8: no padding needed
    english = corpus.Dictionary.build([tmp_path / "train.en"])
    made_up = [f"madeupword{i:04d}" for i in range(6)]
    assert english.symbols == ["<s>", "<pad>", "</s>", "<unk>", "at", "c@@", "the", "a", "dog", "sat", *made_up]
    joint = corpus.Dictionary.build([tmp_path / "train.de", tmp_path / "train.en"])  # --joined-dictionary
    units = ["x", "B@@", "aa", "at", "c@@", "the", "zz", "a", "dog", "sat"]
    assert joint.symbols == ["<s>", "<pad>", "</s>", "<unk>", *units, *made_up[:2]]
    assert corpus.Dictionary.build([tmp_path / "train.de"], threshold=3).symbols[4:] == ["x", *made_up[:3]]
    assert corpus.Dictionary.build([tmp_path / "train.de"], nwords=6).symbols[4:] == ["x", "B@@", *made_up[:2]]
    # fairseq's dict.de.txt: "<symbol> <count>", the special symbols left out; read back the same.
    german.save(tmp_path / "dict.de.txt")
    assert (tmp_path / "dict.de.txt").read_text() == "x 3\nB@@ 2\naa 2\nzz 2\n"
    assert corpus.Dictionary.load(tmp_path / "dict.de.txt").symbols == german.symbols
    np.testing.assert_array_equal(german.encode("zz x  new\n"), [7, 4, 3, 2])  # unknown unit: <unk>; </s> added


def test_parallel_files_give_fairseq_ids_with_pad_and_bos_exchanged_and_references_without_bpe(tmp_path):
    data = corpus.read_parallel_files(write(tmp_path, TINY), "de", "en")
    assert (data.pad_id, data.start_id, data.end_id) == (0, 2, 2)
    assert (data.source_vocabulary_size, data.target_vocabulary_size) == (8, 16)
    sources, targets = data.splits["train"]
    assert [s.tolist() for s in sources] == [[7, 5, 4, 2], [6, 7, 2], [6, 5, 4, 4, 2]]
    assert [t.tolist() for t in targets] == [[6, 5, 4, 2], [6, 8, 2], [7, 5, 4, 9, 2]]
    assert data.splits["test"][0][1].tolist() == [4, 3, 2]  # "x new": new is <unk>
    # fairseq generate.py --remove-bpe: "@@ " joined back; an unknown reference unit is "<<unk>>" (matches nothing).
    assert data.references("test") == ["the cat sat", "the c<<unk>>"]
    assert data.detokenize([6, 5, 4, 2, 0, 6]) == "the cat"  # up to </s>
    joint = corpus.read_parallel_files(tmp_path, "de", "en", joined_dictionary=True)
    assert joint.source_vocabulary_size == joint.target_vocabulary_size == 16
    assert joint.splits["train"][1][0].tolist() == [9, 8, 7, 2]


def test_ids_swap_bos_and_pad_only():
    np.testing.assert_array_equal(corpus.model_ids([0, 1, 2, 3, 4, 1]), [1, 0, 2, 3, 4, 0])


def test_bpe_removal_as_fairseq_post_process():
    assert corpus.remove_bpe("the c@@ at sa@@ t@@") == "the cat sat"  # a space is added first: a final "@@" goes
    assert corpus.remove_bpe("▁the ▁c at", "sentencepiece") == "the cat"
    assert corpus.remove_bpe("the c@@ at", None) == "the c@@ at"


@pytest.mark.parametrize(
    "files, message",
    [
        ({**TINY, "test.en": None}, "test.en is missing"),
        ({**TINY, "valid.en": "the dog\na cat\n"}, "valid.de has 1 lines, .*valid.en has 2"),
        ({**TINY, "train.de": "zz B@@ x\n \naa B@@ x x\n"}, r"train.de:2: empty line"),
    ],
)
def test_malformed_parallel_files_are_named_with_the_line(tmp_path, files, message):
    write(tmp_path, {name: text for name, text in files.items() if text is not None})
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        corpus.read_parallel_files(tmp_path, "de", "en")


def test_tsv_corpus_trains_wordpiece_and_rejects_a_line_without_a_tab(tmp_path):
    pairs = "ein haus\ta house\nein hund\ta dog\nzwei hunde\ttwo dogs\n"
    write(tmp_path, {"train.tsv": pairs, "valid.tsv": pairs, "test.tsv": "ein haus\ta house\n"})
    data = corpus.read_tsv(tmp_path, vocabulary_size=40, vocabulary_directory=tmp_path / "vocabularies")
    from keras_losses_experiments.translation import data as translation_data

    source, _ = translation_data.load_tokenizers(tmp_path / "vocabularies")
    test_source, test_target = data.splits["test"]
    assert test_source[0].tolist() == [*np.asarray(source("ein haus")).tolist(), translation_data.END_ID]
    assert data.detokenize(test_target[0]) == "a house" and data.references("test") == ["a house"]
    write(tmp_path, {"valid.tsv": "ein haus\ta house\nein hund a dog\n"})
    with pytest.raises(ValueError, match=r"valid.tsv:2: expected 'source<TAB>target'"):
        corpus.read_tsv(tmp_path, 40, tmp_path / "vocabularies")


def libbleu(hypotheses, references):
    """fairseq's libbleu.cpp, as written there: per sentence n-gram matches clipped by the hypothesis counts."""
    stats = collections.Counter()
    for hypothesis, reference in zip(hypotheses, references):
        h, r = hypothesis.split(), reference.split()
        stats["hyp"], stats["ref"] = stats["hyp"] + len(h), stats["ref"] + len(r)
        for n in range(1, 5):
            counts = collections.Counter(tuple(h[i : i + n]) for i in range(len(h) - n + 1))
            stats[f"total{n}"] += max(len(h) - n + 1, 0)
            for gram in (tuple(r[i : i + n]) for i in range(len(r) - n + 1)):
                if counts[gram] > 0:
                    stats[f"match{n}"] += 1
                    counts[gram] -= 1
    precisions = [stats[f"match{n}"] / stats[f"total{n}"] for n in range(1, 5)]
    if min(precisions) == 0:
        return 0.0
    brevity = min(1.0, math.exp(1 - stats["ref"] / stats["hyp"]))
    return 100 * brevity * math.exp(sum(map(math.log, precisions)) / 4)


def test_tokenized_bleu_is_fairseq_generates_bleu():
    # Unigrams 5/6, bigrams 3/5, trigrams 2/4, 4-grams 1/3, same lengths: 100 * (1/12) ** (1/4).
    assert corpus.tokenized_bleu(["the cat sat on the mat"], ["the cat sat on a mat"]) == pytest.approx(
        100 * (1 / 12) ** 0.25
    )
    # Tokenized: "mat." is one word here (sacrebleu's default 13a would split it); shorter: brevity penalty.
    hypotheses, references = ["the cat sat on mat.", "a b c d e"], ["the cat sat on the mat .", "a b c d e"]
    assert corpus.tokenized_bleu(hypotheses, references) == pytest.approx(libbleu(hypotheses, references))
    assert corpus.tokenized_bleu(["a b c d"], ["d c b a"]) == 0.0  # no 2-gram in common, no smoothing
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(6)]
    sentences = [[" ".join(rng.choice(words, rng.integers(4, 12))) for _ in range(20)] for _ in range(2)]
    assert corpus.tokenized_bleu(*sentences) == pytest.approx(libbleu(*sentences), rel=1e-12)


def test_fairseqs_batches_by_hand():
    # Ten sentences of size 1 then three of size 2, at most 10 tokens a batch.
    sizes = np.array([1] * 10 + [2] * 3)
    # One sentence at a time: the 11th would make 11 x 2 tokens; the batch closes at 10.
    assert batching.batch_by_size(range(13), sizes, 10, 1) == [list(range(10)), [10, 11, 12]]
    # fairseq's multiple of 8: the first batch keeps 8, sentences 8, 9 start the next (5 x 2 = 10 tokens).
    assert batching.batch_by_size(range(13), sizes, 10, 8) == [list(range(8)), list(range(8, 13))]
    with pytest.raises(ValueError, match="sentence 3 has 11 tokens, more than max_tokens=10"):
        batching.batch_by_size([3], [0, 0, 0, 11], 10)


def test_training_order_is_a_seeded_permutation_sorted_by_source_then_target_length():
    rng = np.random.default_rng(1)
    source, target = rng.integers(1, 6, 50), rng.integers(1, 6, 50)
    permutation = np.random.RandomState(7).permutation(50)
    by_hand = sorted(permutation, key=lambda i: (source[i], target[i]))  # sorted() is stable: ties keep the draw
    np.testing.assert_array_equal(batching.ordered_indices(source, target, seed=7), by_hand)


def random_pairs(count, seed=0, longest=30):
    rng = np.random.default_rng(seed)
    pairs = [[rng.integers(4, 50, rng.integers(1, longest)).astype(np.int32) for _ in range(count)] for _ in range(2)]
    return [[np.append(s, 2) for s in side] for side in pairs]  # every sentence ends with </s>


def test_every_epoch_visits_every_sentence_once_within_the_budget_in_its_own_reproducible_order():
    sources, targets = random_pairs(300)
    batches = batching.TokenBatches.of(sources, targets, max_tokens=256, seed=3, pad_id=0, start_id=2)
    orders = [batches.epoch_order(epoch) for epoch in (1, 2)]
    assert orders[0] != orders[1] and batches.epoch_order(1) == orders[0]  # reproducible, different per epoch
    state = np.random.get_state()  # fairseq's own code: the global RandomState seeded with seed + epoch
    np.random.seed(3 + 2)
    fairseq_order = list(batches.batches)
    np.random.shuffle(fairseq_order)
    np.random.set_state(state)
    assert orders[1] == fairseq_order
    for epoch, order in enumerate(orders):
        assert sorted(itertools.chain(*order)) == list(range(300))
        tokens = batches.tokens(epoch + 1)
        for (inputs, labels), batch, count in zip(batches.epoch_batches(epoch).as_numpy_iterator(), order, tokens):
            rows, width = labels.shape
            longest = max(max(len(sources[i]), len(targets[i])) for i in batch)
            assert rows == len(batch) and rows * longest <= 256 and width <= longest
            assert (labels != 0).sum() == count == sum(len(targets[i]) for i in batch)
            for row, i in enumerate(batch):
                source, target = sources[i], targets[i]
                np.testing.assert_array_equal(inputs["encoder_inputs"][row, : len(source)], source)
                np.testing.assert_array_equal(labels[row, : len(target)], target)
                np.testing.assert_array_equal(inputs["decoder_inputs"][row, : len(target)], [2, *target[:-1]])
                assert not inputs["encoder_inputs"][row, len(source) :].any() and not labels[row, len(target) :].any()
    assert sum(len(b) for b in orders[0]) == 300 and len(orders[0]) == len(batches.tokens(1))


def test_pairs_longer_than_the_positions_are_left_out_and_bad_budgets_named():
    sources, targets = random_pairs(20, longest=12)
    targets[5] = np.arange(4, 30, dtype=np.int32)
    batches = batching.TokenBatches.of(sources, targets, 64, seed=1, pad_id=0, start_id=2, max_positions=20)
    assert batches.skipped == [5] and sorted(itertools.chain(*batches.batches)) == [i for i in range(20) if i != 5]
    with pytest.raises(ValueError, match=r"`max_tokens` must be an integer >= 1\. Received: max_tokens=0"):
        batching.TokenBatches.of(sources, targets, 0, seed=1, pad_id=0, start_id=2)


def test_the_corpus_batches_feed_the_translator_shapes(tmp_path):
    data = corpus.read_parallel_files(write(tmp_path, TINY), "de", "en")
    batches = batching.TokenBatches.of(*data.splits["train"], 64, seed=1, pad_id=data.pad_id, start_id=data.start_id)
    (inputs, labels), *_ = batches.epoch_batches(0).as_numpy_iterator()
    assert sorted(batches.batches[0]) == [0, 1, 2]  # 3 sentences of at most 5 tokens: one batch
    assert inputs["decoder_inputs"][:, 0].tolist() == [2, 2, 2]  # fairseq's decoder starts with </s>
    assert labels.shape == (3, 5) and (labels[:, -1] != 0).sum() == 1  # right-padded with <pad>: 0


def reference_beam_search(log_probs_of, max_len, beams, len_penalty=1.0, min_len=1, pad=0, eos=2):
    """fairseq's `SequenceGenerator._generate` for one sentence, written plainly with lists: the best finished
    hypothesis (its tokens, </s> included) and its score."""
    live, finished = [((), 0.0)], []
    for step in range(max_len + 1):
        candidates = []
        for beam, (tokens, score) in enumerate(live):
            log_probs = np.array(log_probs_of(tokens), np.float64)
            log_probs[pad] = -np.inf
            if step >= max_len:
                log_probs[np.arange(len(log_probs)) != eos] = -np.inf
            if step < min_len:
                log_probs[eos] = -np.inf
            candidates += [(score + p, beam, token) for token, p in enumerate(log_probs)]
        candidates = sorted(candidates, key=lambda c: -c[0])[: 2 * beams]  # stable: ties in (beam, token) order
        for score, beam, token in candidates[:beams]:
            if token == eos and score > -np.inf and len(finished) < beams:
                finished.append(((*live[beam][0], eos), score / (step + 1) ** len_penalty))
        if len(finished) == beams or step == max_len:
            break
        live = [((*live[b][0], t), s) for s, b, t in candidates if not (t == eos and s > -np.inf)][:beams]
    return max(finished, key=lambda hypothesis: hypothesis[1])


def markov_next(log_probs):
    """A fake decoder: next-token log-probabilities `log_probs[previous token]`."""
    from keras import ops

    table = ops.convert_to_tensor(np.asarray(log_probs, np.float32))

    def next(prompt, cache, index):
        return ops.take(table, prompt[:, index - 1], axis=0), None, cache

    return next


def run_search(search, next, batch, width, max_lengths, cache=None, start=2):
    from keras import ops

    prompt = np.zeros((batch * search.beams, width), np.int32)
    prompt[:, 0] = start
    cache = ops.zeros((batch * search.beams, 1), "int32") if cache is None else cache
    tokens, scores = search(next, ops.convert_to_tensor(prompt), cache, ops.convert_to_tensor(max_lengths))
    return ops.convert_to_numpy(tokens), ops.convert_to_numpy(scores)


def markov_table(rows, vocabulary=10, eos=2, start=2):
    """Log-probabilities of a Markov model: `rows[token] = {next token: probability}`, the rest of each row's mass
    spread over the other tokens but <pad> (0)."""
    table = np.zeros((vocabulary, vocabulary))
    for token in range(vocabulary):
        given = rows.get(token, {})
        rest = [t for t in range(1, vocabulary) if t not in given]
        table[token, rest] = (1 - sum(given.values())) / len(rest)
        for t, p in given.items():
            table[token, t] = p
    return np.log(np.maximum(table, 1e-30))


def test_length_normalisation_changes_the_winner_by_hand():
    from keras_losses_experiments.translation import beam_search

    a, b, c, d, f, z, eos = 4, 5, 6, 7, 8, 9, 2
    # From the start (</s>): a .5, b .45. After b: </s> .5, d .4; after a: c .9; after c: z .5, </s> .45;
    # after d: f .8. Beam 2: step 1 finishes "b </s>" (.225, score log(.225) / 2 = -0.746) and keeps "a c"
    # (.45), "b d" (.18); step 2 finishes "a c </s>" (.2025, log(.2025) / 3 = -0.532): the longer one wins
    # with length normalisation, the shorter without (len_penalty 0: log .225 > log .2025).
    rows = {eos: {a: 0.5, b: 0.45}, b: {eos: 0.5, d: 0.4}, a: {c: 0.9}, c: {z: 0.5, eos: 0.45}, d: {f: 0.8}}
    next = markov_next(markov_table(rows))
    tokens, score = run_search(beam_search.FairseqBeamSearch(beams=2), next, 1, 8, [10])
    assert tokens[0].tolist() == [2, a, c, eos, 0, 0, 0, 0] and score[0] == pytest.approx(np.log(0.2025) / 3)
    tokens, score = run_search(beam_search.FairseqBeamSearch(beams=2, len_penalty=0.0), next, 1, 8, [10])
    assert tokens[0].tolist() == [2, b, eos, 0, 0, 0, 0, 0] and score[0] == pytest.approx(np.log(0.225))


def test_the_max_length_rule():
    from keras_losses_experiments.translation import beam_search

    sources = np.array([[5, 6, 2, 0], [5, 2, 0, 0]])  # the batch's longest source: 3 tokens with its </s>
    assert beam_search.max_lengths(sources, 0, 1.2, 10).tolist() == [13, 13]  # int(1.2 x 3 + 10)
    assert beam_search.max_lengths(sources, 0).tolist() == [200, 200]  # generate.py's defaults
    assert beam_search.max_lengths(sources, 0, 1.2, 10, max_positions=12).tolist() == [11, 11]
    # A model that hardly ever ends: at max_len, only </s>: max_len tokens then </s>.
    next = markov_next(markov_table({t: {2: 1e-6} for t in range(10)}))
    tokens, _ = run_search(beam_search.FairseqBeamSearch(beams=3), next, 2, 7, [3, 5])
    assert (tokens[:, 0] == 2).all() and tokens[0, 4] == 2 and tokens[1, 6] == 2
    assert (tokens[0, 1:4] != 2).all() and (tokens[1, 1:6] != 2).all() and (tokens[0, 5:] == 0).all()


def test_beam_search_equals_fairseqs_loop_written_plainly():
    """Random fake decoders whose next-token log-probabilities depend on the whole prefix (through the cache,
    which must follow the hypotheses), three sentences with their own max lengths, beams 1, 3 and 5."""
    from keras import ops

    from keras_losses_experiments.translation import beam_search

    vocabulary, states = 14, 97
    rng = np.random.default_rng(0)
    table = rng.normal(0, 2, (states, vocabulary)).astype(np.float32)
    table[:, 2] -= 1.0  # </s> a little less likely: longer hypotheses
    log_probs = table - np.log(np.exp(table).sum(axis=1, keepdims=True))

    def state_of(first, tokens):
        state = first
        for token in tokens:
            state = (state * 31 + token) % states
        return state

    def next(prompt, cache, index):
        state = (cache * 31 + prompt[:, index - 1 : index]) % states
        return ops.take(ops.convert_to_tensor(table), state[:, 0], axis=0), None, state

    max_lengths = [2, 5, 7]
    for beams in (1, 3, 5):
        search = beam_search.FairseqBeamSearch(beams=beams)
        first = np.repeat(np.array([[3], [11], [29]], np.int32), beams, axis=0)
        tokens, scores = run_search(search, next, 3, 9, max_lengths, cache=ops.convert_to_tensor(first))
        for sentence, max_len in enumerate(max_lengths):
            expected, score = reference_beam_search(
                lambda prefix, start=first[sentence * beams, 0]: log_probs[state_of(start, (2, *prefix))],
                max_len,
                beams,
            )
            hypothesis = tokens[sentence, 1 : 1 + len(expected)].tolist()
            assert hypothesis == list(expected), f"beams={beams}, sentence {sentence}"
            assert (tokens[sentence, 1 + len(expected) :] == 0).all()
            assert scores[sentence] == pytest.approx(score, rel=1e-5)


def test_the_cached_translator_decodes_as_fairseqs_loop_over_the_whole_model():
    """`decoding.CachedDecoder` with the fairseq search (compiled with XLA) against the plain loop driving the
    whole model on the whole prefix, on a small random translator made decisive (its logits scaled by 8)."""
    from keras import ops

    from keras_losses_experiments.translation import beam_search, decoding, presets
    from keras_losses_experiments.translation import model as translator

    keras.utils.set_random_seed(0)
    preset = presets.PRESETS["tiny"].override(layers=1, model_dim=16, heads=2, feedforward_dim=32, dropout=0.0)
    model = translator.build_transformer(16, 16, 8, preset, head="dense")
    logits = model.get_layer("logits")
    logits.kernel.assign(logits.kernel * 8.0)
    sources = np.array([[5, 9, 7, 2, 0, 0, 0, 0], [11, 2, 0, 0, 0, 0, 0, 0], [4, 4, 6, 13, 8, 2, 0, 0]], np.int32)
    search = beam_search.FairseqBeamSearch(beams=3)
    max_lengths = beam_search.max_lengths(sources, 0, 1.2, 0, max_positions=8)  # int(1.2 x 6) = 7 = 8 - 1
    assert max_lengths.tolist() == [7, 7, 7]
    decoded = ops.convert_to_numpy(decoding.CachedDecoder(model, search=search).compiled()(sources, max_lengths))
    assert decoded.shape == (3, 9)
    for source, row in zip(sources, decoded):

        def log_probs_of(prefix, source=source):
            decoder_inputs = np.zeros((1, 8), np.int32)
            decoder_inputs[0, : len(prefix) + 1] = (2, *prefix)
            step_logits = ops.convert_to_numpy(model([source[None], decoder_inputs]))[0, len(prefix)]
            return step_logits - np.log(np.exp(step_logits - step_logits.max()).sum()) - step_logits.max()

        expected, _ = reference_beam_search(log_probs_of, 7, 3)
        assert row.tolist() == [2, *expected] + [0] * (8 - len(expected))
