"""BLEU, the translation metric: sacrebleu's corpus BLEU of detokenized sentences."""


def bleu(hypotheses, references):
    """Corpus BLEU of detokenized sentences with sacrebleu's default tokenization (0-100)."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)
