"""jaxcnn.paths.data_home and the speech experiment's default data folder (issue 20)."""

from pathlib import Path

import pytest

import jaxcnn
from jaxcnn import paths


def test_data_home_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path / "mine"))
    assert paths.data_home() == (tmp_path / "mine").resolve()
    assert paths.data_home("speech", "x") == (tmp_path / "mine" / "speech" / "x").resolve()
    assert not (tmp_path / "mine").exists()  # nothing is created
    for bad in ("/abs", "../up", "a/../../b"):
        with pytest.raises(ValueError, match="parts must be relative paths inside it"):
            paths.data_home(bad)


def test_without_the_variable_data_home_is_the_user_cache_not_the_package(monkeypatch):
    import platformdirs

    monkeypatch.delenv("JAXCNN_DATA", raising=False)
    home = paths.data_home("speech")
    assert home == Path(platformdirs.user_cache_dir("jaxcnn")).resolve() / "speech"
    package = Path(jaxcnn.__file__).resolve().parent
    assert package not in home.parents and package.parent not in home.parents
    monkeypatch.setenv("JAXCNN_DATA", "")  # empty counts as unset
    assert paths.data_home("speech") == home


def test_the_speech_experiment_defaults_to_data_home(tmp_path, monkeypatch):
    pytest.importorskip("librosa")
    from jaxcnn.experiments import mfcc_frames

    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path))
    # read when the config is made, not when the module was imported
    assert mfcc_frames.SpeechConfig().data_dir == str(tmp_path.resolve() / "speech")
    assert mfcc_frames.get_config().data_dir == str(tmp_path.resolve() / "speech")
