"""Started by every Python process of a documented shell script under test: the tiny setting
(tests/docs/tiny.py) when FLEXSEG_DOCS_TINY is set."""
import os

if os.environ.get("FLEXSEG_DOCS_TINY"):
    from tests.docs.tiny import install

    install()
