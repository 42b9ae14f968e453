"""Errors raised by the indexer.

Hierarchy::

    IndexerError                 anything the indexer reports to a user
    ├── InputError               an input file or record cannot be used (bad path, format, content)
    │   └── InputStreamError     a file stops being readable part-way (over-long record, truncated
    │                            compressed stream); its message names the line and byte offset
    ├── EmbedderError            the embedder cannot be loaded or does not answer
    ├── IndexStoreError          the on-disk index cannot be opened or written
    │   ├── IndexNotFoundError   no index (or no current version) at the given directory
    │   ├── IndexCorruptError    a file of the current version is missing, truncated or damaged
    │   ├── LegacyFormatError    the index is in an older format that must be upgraded first
    │   ├── EmbedderMismatchError  the index was built with another embedder than the configured one
    │   └── IndexLockedError     another process is writing the index
    ├── PaperNotFoundError       no paper with the given id in the index
    └── NothingToIndexError      no usable record was read from any input

Every message names what was wrong (the file, the field, the expected value).
"""


class IndexerError(Exception):
    """Base class of every error the indexer raises on purpose."""


class InputError(IndexerError):
    """An input file cannot be read or has an unknown format."""


class InputStreamError(InputError):
    """A file cannot be read on from some point: fatal for that file, named with its position."""


class EmbedderError(IndexerError):
    """The embedder cannot be loaded, or its endpoint fails."""


class IndexStoreError(IndexerError):
    """The on-disk index cannot be opened or written."""


class IndexNotFoundError(IndexStoreError):
    """No index, or no complete current version, in the index directory."""


class IndexCorruptError(IndexStoreError):
    """A file of an index version is missing, truncated or does not match its manifest."""


class LegacyFormatError(IndexStoreError):
    """The index is in an older on-disk format; ``abstractqa index upgrade`` converts it."""


class PaperNotFoundError(IndexerError):
    """No paper with the given id is in the index."""


class EmbedderMismatchError(IndexStoreError):
    """The index was built with a different embedder from the configured one."""


class IndexLockedError(IndexStoreError):
    """Another process holds the index's write lock."""


class NothingToIndexError(IndexerError):
    """No usable record was read from any of the inputs."""
