"""What answering loads on first use, loaded ahead of the first question.

Answering a question renders llama-index prompt templates (``prompts.render`` imports
``llama_index.core``, ~1 s), splits the answer into sentences with NLTK's Punkt (importing
``nltk``, ~0.7 s) and counts tokens with tiktoken (loading its encoding, ~0.2 s). All three are
imported lazily, so that ``abstractqa serve`` is ready sooner; without this the first questions
after a start paid for them: on the 1,000,000-paper benchmark index the first two /v1/ask
requests took 0.54 and 0.85 s against ~15 ms for the rest (ad hoc), which was that run's p99.
"""

from __future__ import annotations

from indexer import count_tokens_many, split_sentences
from service.answering.context import chat_messages


def warm_answering() -> None:
    """Load the prompt templates' renderer, the sentence splitter and the token counter."""
    chat_messages("Which papers?", [], max_sentences=1)
    split_sentences("A first sentence. A second one.")
    count_tokens_many(["a sentence"])
