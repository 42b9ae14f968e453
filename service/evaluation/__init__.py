"""Answer-quality evaluation over a question set (``abstractqa eval answers``)."""
