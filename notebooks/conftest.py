"""The lesson notebooks run as tests (nbmake). nbmake starts each notebook's kernel from this
process's environment, so setting a variable here, at import, reaches every notebook:

* REFIMPL_NOTEBOOK_SMALL=1: the notebooks shrink their loops and sample sizes (same checks).
  Run `REFIMPL_NOTEBOOK_SMALL=0 python -m pytest notebooks` for the full-size lessons.
* MPLBACKEND=Agg: plots are drawn without a display.
"""
import os

os.environ.setdefault("REFIMPL_NOTEBOOK_SMALL", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
