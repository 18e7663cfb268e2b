"""jaxcnn.paths: generated data lives in $JAXCNN_DATA or the user cache, never in the package."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

import jaxcnn
from jaxcnn import paths


def _package_folders() -> list[Path]:
    """Every folder the installed distribution imports from (the core and its mapped parts)."""
    import jaxcnn.experiments
    import jaxcnn.text

    folders = [*jaxcnn.__path__, *jaxcnn.experiments.__path__, *jaxcnn.text.__path__]
    try:
        import jaxcnn.audio

        folders += list(jaxcnn.audio.__path__)
    except ImportError:  # the audio extra is missing: its folder cannot be written by it either
        pass
    return [Path(f).resolve() for f in folders]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def test_data_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "d"))
    assert paths.data_home("speech", "x") == (tmp_path / "d" / "speech" / "x").resolve()
    assert not (tmp_path / "d").exists()  # nothing is created by asking
    monkeypatch.setenv(paths.DATA_ENV, "")  # empty counts as unset
    assert paths.data_home() == Path(platformdirs.user_cache_dir("jaxcnn")).resolve()
    monkeypatch.delenv(paths.DATA_ENV)
    assert paths.data_home("a") == Path(platformdirs.user_cache_dir("jaxcnn")).resolve() / "a"


@pytest.mark.parametrize("part", ["/etc", "../up", "a/../../b"])
def test_data_home_refuses_parts_that_leave_it(part):
    with pytest.raises(ValueError, match="data_home: parts must be relative"):
        paths.data_home(part)


def test_default_data_folders_are_outside_the_package(monkeypatch):
    pytest.importorskip("librosa")
    from jaxcnn.experiments import mfcc_frames

    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    speech = Path(mfcc_frames.SpeechConfig().data_dir).resolve()
    assert speech == paths.data_home("speech")
    folders = _package_folders()
    assert Path(jaxcnn.__file__).resolve().parent in folders
    for folder in folders:
        assert not _inside(speech, folder), (speech, folder)
        assert not _inside(paths.data_home(), folder), folder
