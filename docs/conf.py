"""Sphinx configuration. Build: ``python -m sphinx -W -b html docs docs/_build/html``."""

import importlib.util
import os

import sklearn_aclr

project = "sklearn-aclr"
author = "The sklearn-aclr developers"
copyright = "2026, The sklearn-aclr developers"  # noqa: A001
release = version = sklearn_aclr.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]

# The gallery runs every example (about a minute each on two cores). Set
# SKLEARN_ACLR_DOCS_RUN_EXAMPLES=0 to build the pages without running them.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": os.environ.get("SKLEARN_ACLR_DOCS_RUN_EXAMPLES", "1") != "0",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = ("pydata_sphinx_theme" if importlib.util.find_spec("pydata_sphinx_theme")
              else "alabaster")
html_title = f"sklearn-aclr {release}"
