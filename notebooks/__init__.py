"""Not a library: this file makes `notebooks/conftest.py` import as `notebooks.conftest`, so it
cannot shadow `tests/conftest.py` (both would otherwise be the top-level module `conftest`)."""
