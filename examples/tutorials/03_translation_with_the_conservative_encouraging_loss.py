"""
Title: A translator trained with the conservative encouraging loss
Author: keras-losses contributors
Date created: 2026/12/03
Last modified: 2026/12/04
Description: A keras-hub transformer on TED Pt-En with the encouraging-loss paper's loss; beam search and BLEU.
Accelerator: GPU
"""

"""
## Introduction

Zhao et al. (AAAI 2022, arXiv 2110.06537) train fairseq's `transformer_iwslt_de_en` on IWSLT German-English
with the **conservative encouraging loss** (`log_end = 0.5`) and label smoothing 0.1, and report higher BLEU
than with cross-entropy. This tutorial runs that setup, scaled down to fit a hosted notebook, on the closest
data set in TensorFlow Datasets: TED talks Portuguese → English (`ted_hrlr_translate/pt_to_en`, 51,785
training pairs). Everything is built here from public APIs, as in keras.io's
[English-to-Spanish translation with KerasHub](https://keras.io/examples/nlp/neural_machine_translation_with_keras_hub/):

- WordPiece tokenizers trained on the training split (`keras_hub.tokenizers`);
- an encoder-decoder transformer of `keras_hub.layers` with padding masked throughout;
- the loss, `keras_losses.ConservativeEncouragingLoss`, as the mean over the non-padding tokens;
- translation by greedy or beam search (`keras_hub.samplers`), scored with sacrebleu's corpus BLEU.

**Time (an estimate, not measured):** about 10–15 minutes on a Colab T4 GPU for 10 epochs of a 3 + 3 layer
transformer (d_model 256) and 500 test sentences decoded with 5 beams; a few minutes on an A100 or L4.
The project's tests run it offline on 16 random sentence pairs (`KERAS_LOSSES_TUTORIAL_TINY=1`) in about
half a minute.

## Setup

Install the package and the translation libraries (keras-hub, tensorflow-text, TensorFlow Datasets,
sacrebleu) if the runtime lacks them: `pip install "keras-losses[translation]"` (from a wheel built with
`python -m build`, or from the repository).
"""

import os

TINY = os.environ.get("KERAS_LOSSES_TUTORIAL_TINY") == "1"

import keras
import keras_hub
import matplotlib.pyplot as plt
import sacrebleu
import tensorflow as tf
import tensorflow_datasets as tfds
from keras import ops

import keras_losses

print(f"Keras {keras.__version__} on {keras.backend.backend()}, keras-hub {keras_hub.__version__}")

"""
## The setup, scaled down

The paper's model is fairseq's `transformer_iwslt_de_en`: 6 + 6 layers, d_model 512, 4 heads, feed-forward
1024; Adam with β = (0.9, 0.98), an inverse-square-root learning-rate schedule after 4,000 warm-up updates,
weight decay 1e-4; label smoothing 0.1; beam search with 5 beams. Here: half the layers and width, 10 epochs
and a shorter warm-up. The tiny settings (for the tests) use 16 random sentence pairs of the data set's
format (`tfds.testing.mock_data`, no download) and a one-layer model.
"""

if TINY:
    MOCK_PAIRS, VOCABULARY, LENGTH, BATCH, EPOCHS, TEST_SENTENCES, BEAMS = 16, 200, 16, 4, 1, 4, 2
    LAYERS, MODEL_DIM, HEADS, FEEDFORWARD_DIM, DROPOUT, WARMUP = 1, 32, 2, 64, 0.1, 10
else:
    MOCK_PAIRS, VOCABULARY, LENGTH, BATCH, EPOCHS, TEST_SENTENCES, BEAMS = None, 8000, 64, 128, 10, 500, 5
    LAYERS, MODEL_DIM, HEADS, FEEDFORWARD_DIM, DROPOUT, WARMUP = 3, 256, 4, 1024, 0.3, 1000
LEARNING_RATE, WEIGHT_DECAY, LABEL_SMOOTHING, LOG_END = 1e-3, 1e-4, 0.1, 0.5

"""
## Data and tokenizers

Sentence pairs from TensorFlow Datasets (downloaded once, about 125 MB; the tiny settings draw random pairs
of the same format instead). One WordPiece vocabulary per language is trained on the training split. The
reserved tokens come first, so that padding is id 0 — the id the embeddings mask and the loss ignores.
"""

if MOCK_PAIRS:
    with tfds.testing.mock_data(num_examples=MOCK_PAIRS):
        train_pairs, test_pairs = tfds.load("ted_hrlr_translate/pt_to_en", split=["train", "test"], as_supervised=True)
else:
    train_pairs, test_pairs = tfds.load("ted_hrlr_translate/pt_to_en", split=["train", "test"], as_supervised=True)

RESERVED = ["[PAD]", "[UNK]", "[START]", "[END]"]
PAD, START, END = 0, 2, 3


def train_tokenizer(sentences):
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        sentences.batch(1000).prefetch(2), vocabulary_size=VOCABULARY, reserved_tokens=RESERVED, lowercase=True
    )
    return keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=True, oov_token="[UNK]")


pt_tokenizer = train_tokenizer(train_pairs.map(lambda pt, en: pt))
en_tokenizer = train_tokenizer(train_pairs.map(lambda pt, en: en))
print(f"vocabularies: {pt_tokenizer.vocabulary_size()} Portuguese and {en_tokenizer.vocabulary_size()} English tokens")

"""
Each batch is `({"encoder_inputs": Portuguese ids, "decoder_inputs": English ids}, next English ids)`:
the decoder reads `[START] w1 w2 ...` and learns to predict `w1 w2 ... [END]`, all padded with 0 to
`LENGTH` tokens (`keras_hub.layers.StartEndPacker`).
"""

pack_pt = keras_hub.layers.StartEndPacker(sequence_length=LENGTH, pad_value=PAD)
pack_en = keras_hub.layers.StartEndPacker(sequence_length=LENGTH + 1, start_value=START, end_value=END, pad_value=PAD)


def to_model_inputs(pt, en):
    pt, en = pack_pt(pt_tokenizer(pt)), pack_en(en_tokenizer(en))
    return {"encoder_inputs": pt, "decoder_inputs": en[:, :-1]}, en[:, 1:]


train = (
    train_pairs.shuffle(10_000, seed=0)
    .batch(BATCH)
    .map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    .prefetch(tf.data.AUTOTUNE)
)
test = test_pairs.batch(BATCH).map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE)

"""
## The model

An encoder-decoder transformer of keras-hub layers. `TokenAndPositionEmbedding(mask_zero=True)` gives the
padding a Keras mask that every later layer follows: the encoder's self-attention and the decoder's
cross-attention never look at padding, and the decoder's self-attention is causal as well (position `t`
sees the target tokens up to `t` only). The output layer is linear: the loss receives logits.
"""

keras.utils.set_random_seed(0)

encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
x = keras_hub.layers.TokenAndPositionEmbedding(pt_tokenizer.vocabulary_size(), LENGTH, MODEL_DIM, mask_zero=True)(
    encoder_inputs
)
for _ in range(LAYERS):
    x = keras_hub.layers.TransformerEncoder(FEEDFORWARD_DIM, HEADS, dropout=DROPOUT)(x)

decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
y = keras_hub.layers.TokenAndPositionEmbedding(en_tokenizer.vocabulary_size(), LENGTH, MODEL_DIM, mask_zero=True)(
    decoder_inputs
)
for _ in range(LAYERS):
    y = keras_hub.layers.TransformerDecoder(FEEDFORWARD_DIM, HEADS, dropout=DROPOUT)(y, x)
y = keras.layers.Dropout(DROPOUT)(y)
logits = keras.layers.Dense(en_tokenizer.vocabulary_size(), name="logits")(y)
translator = keras.Model([encoder_inputs, decoder_inputs], logits, name="translator")
print(f"{translator.count_params():,} parameters")

"""
## The loss

With `p` the softmax of the logits and `y` the next token, the encouraging loss of one token is
cross-entropy plus a bonus that is negative and keeps falling as `p_y` approaches 1:

    loss = -log p_y + log(max(1 - p_y, 1e-5))                        for p_y <= log_end
    loss = -log p_y + log(1 - LE) - (p_y - LE) / (1 - LE)            for p_y >  log_end = LE

Cross-entropy's gradient with respect to the true class's logit, `p_y - 1`, fades away on tokens the model
already predicts well; the bonus keeps rewarding them. The plain bonus (`log_end = 1`) falls steeply as
`p_y → 1`, down to its clamp at `log(1e-5)`; the conservative form (`log_end = 0.5`) follows the bonus's
tangent line above `LE` instead, a gentler, bounded reward. With label smoothing `s` the target is
`(1 - s) · onehot(y) + s / V` and the loss is that mixture of the per-class terms. `ignore_class=0` leaves
the padding out: the loss of a batch is the mean over its non-padding tokens, and
`keras_losses.metrics.MaskedTokenAccuracy` counts next-token accuracy the same way.

The optimizer is Adam with decoupled weight decay (`keras.optimizers.AdamW`) and the inverse-square-root
schedule `lr(step) = LR · min(step / warmup, sqrt(warmup / step))` of fairseq, which the package provides as
`keras_losses.schedules.InverseSquareRootSchedule`.
"""

loss = keras_losses.ConservativeEncouragingLoss(
    log_end=LOG_END, from_logits=True, label_smoothing=LABEL_SMOOTHING, ignore_class=PAD
)
optimizer = keras.optimizers.AdamW(
    learning_rate=keras_losses.schedules.InverseSquareRootSchedule(LEARNING_RATE, warmup_steps=WARMUP),
    beta_1=0.9,
    beta_2=0.98,
    epsilon=1e-8,
    weight_decay=WEIGHT_DECAY,
)
translator.compile(optimizer=optimizer, loss=loss, metrics=[keras_losses.metrics.MaskedTokenAccuracy(ignore_class=PAD)])
print(f"loss: {loss.get_config()}")

"""
## Train
"""

history = translator.fit(train, epochs=EPOCHS, validation_data=test, verbose=2)

"""
The training loss goes below zero as the model grows confident (the bonus outweighs the cross-entropy):
that is expected, and why token accuracy is the readable curve.
"""

epochs = range(1, len(history.history["loss"]) + 1)
figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
left.plot(epochs, history.history["loss"], marker="o", label="training")
left.plot(epochs, history.history["val_loss"], marker="o", label="test")
left.set(xlabel="epoch", ylabel="conservative encouraging loss (per token)", title="Loss per epoch")
right.plot(epochs, history.history["token_accuracy"], marker="o", label="training")
right.plot(epochs, history.history["val_token_accuracy"], marker="o", label="test")
right.set(xlabel="epoch", ylabel="next-token accuracy (padding excluded)", title="Token accuracy per epoch")
for axes in (left, right):
    axes.grid(alpha=0.3)
    axes.legend()
plt.show()

"""
## Translate

The decoder writes one token at a time: the prompt starts as `[START]` followed by padding; at step `i` the
model reads the prompt and the sampler picks token `i` from the logits at position `i - 1`, until every
sentence has written `[END]`. `keras_hub.samplers.GreedySampler` takes the most likely token;
`BeamSampler(5)` keeps the 5 most likely prefixes of each sentence and returns the best. The beam sampler
lays out the beams of a sentence next to each other, so the source ids are repeated the same way. The
padding id is never written: it would be masked out of the prompt.
"""


def translate(sentences, beams=1):
    sampler = keras_hub.samplers.GreedySampler() if beams == 1 else keras_hub.samplers.BeamSampler(beams)
    encoder_tokens = ops.repeat(ops.convert_to_tensor(pack_pt(pt_tokenizer(sentences))), beams, axis=0)
    start = ops.full((len(sentences), 1), START, "int32")
    prompt = ops.pad(start, [[0, 0], [0, LENGTH - 1]], constant_values=PAD)  # [START] then padding

    def next_token(prompt, cache, index):
        logits = translator([encoder_tokens, prompt])[:, index - 1, :]
        logits = ops.where(ops.arange(ops.shape(logits)[-1]) == PAD, -1e9, logits)
        return logits, None, cache

    generated = ops.convert_to_numpy(sampler(next_token, prompt, index=1, stop_token_ids=[END]))
    texts = []
    for row in generated:
        tokens = list(row[1:])
        tokens = tokens[: tokens.index(END)] if END in tokens else tokens
        texts.append(en_tokenizer.detokenize(tokens) if tokens else "")
    return texts


"""
## Score

Corpus BLEU (0–100) of the translations against the references, with sacrebleu's standard tokenization.
"""

sources, references = [], []
for pt, en in test_pairs.take(TEST_SENTENCES):
    sources.append(pt.numpy().decode("utf-8"))
    references.append(en.numpy().decode("utf-8"))
hypotheses = []
for begin in range(0, len(sources), 50):
    hypotheses += translate(sources[begin : begin + 50], beams=BEAMS)
bleu = sacrebleu.corpus_bleu(hypotheses, [references]).score

for source, hypothesis, reference in list(zip(sources, hypotheses, references))[:4]:
    print(f"source:      {source}\ntranslation: {hypothesis}\nreference:   {reference}\n")

"""
## Summary
"""

print(f"test token accuracy {history.history['val_token_accuracy'][-1]:.4f}")
print(f"BLEU {bleu:.2f} on {len(sources)} test sentences, {BEAMS} beams")

"""
One run is no verdict: to know whether the conservative encouraging loss beats cross-entropy here, train
the same model with `keras_losses.CrossEntropy(from_logits=True, label_smoothing=0.1, ignore_class=0)`
over several seeds and compare the BLEU scores paired by seed, as the CIFAR-10 tutorial does for accuracy.
For a vocabulary of tens of thousands of tokens, `keras_losses.LossHead` computes the loss in chunks of
tokens without holding the `[tokens, vocabulary]` logits (see *Large vocabularies: the loss head*).
"""
