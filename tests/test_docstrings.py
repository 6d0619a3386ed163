"""Every public name carries a numpydoc docstring with an Examples section (run as doctests)."""

import inspect

import pytest

import sklearn_aclr
from sklearn_aclr import augmentations, datasets, metrics, model_selection, nn, preprocessing

MODULES = [sklearn_aclr, augmentations, datasets, metrics, model_selection, nn, preprocessing]
PUBLIC = sorted(
    {
        (module.__name__, name)
        for module in MODULES
        for name in module.__all__
        if callable(getattr(module, name)) and not name.startswith("__")
    }
)


@pytest.mark.parametrize(("module", "name"), PUBLIC)
def test_public_names_have_examples(module, name):
    obj = getattr(__import__(module, fromlist=[name]), name)
    doc = inspect.getdoc(obj) or ""
    assert "Examples\n--------" in doc, f"{module}.{name} has no Examples section"
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert "Parameters\n----------" in doc or not inspect.signature(obj).parameters, (
            f"{module}.{name} has no Parameters section"
        )
