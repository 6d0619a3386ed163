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


def test_html_diagram_links_each_step_to_its_api_page(monkeypatch):
    from sklearn.pipeline import make_pipeline

    from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
    from sklearn_aclr.model_selection import BackgroundOnly

    detector = BackgroundOnly(make_pipeline(EventScaler(), AnomalyCLRTransformer(),
                                            AutoEncoderScorer()))
    monkeypatch.setenv("SKLEARN_ACLR_DOCS_URL", "https://docs.example.org/aclr/")
    html = detector._repr_html_()
    for page in ["sklearn_aclr.EventScaler", "sklearn_aclr.AnomalyCLRTransformer",
                 "sklearn_aclr.AutoEncoderScorer", "sklearn_aclr.model_selection.BackgroundOnly"]:
        assert f'href="https://docs.example.org/aclr/generated/{page}.html"' in html
    # Where no documentation root is known, the diagram has no link rather than a wrong one.
    monkeypatch.setenv("SKLEARN_ACLR_DOCS_URL", "")
    assert "docs.example.org" not in detector._repr_html_()
    assert EventScaler()._get_doc_link() == ""
