"""The progress bar: loss, accuracy and examples/second on a terminal, silence elsewhere."""

from jaxcnn.train import TrainConfig, fit
from jaxcnn.train.progress import _NoBar, progress_bar
from tests.train.helpers import MLP, as_process, digit_sets


def test_bar_is_silent_when_stderr_is_not_a_terminal(capsys):
    # Under pytest's capture stderr is not a terminal: the default (None) must stay quiet.
    bar = progress_bar(10, None)
    assert isinstance(bar, _NoBar)
    bar.update(3)
    bar.set_postfix(loss="1.0")
    bar.close()
    assert capsys.readouterr().err == ""


def test_fit_shows_loss_accuracy_and_speed_when_asked(capsys):
    train, test = digit_sets(256)
    config = TrainConfig(epochs=1, batch_size=64, num_classes=10, progress=True)
    fit(MLP(), train, test, config)
    err = capsys.readouterr().err
    assert "loss=" in err and "acc=" in err and "ex_s=" in err, err[-500:]


def test_fit_is_quiet_by_default_off_a_terminal(capsys):
    train, test = digit_sets(256)
    fit(MLP(), train, test, TrainConfig(epochs=1, batch_size=64, num_classes=10))
    captured = capsys.readouterr()
    assert "loss=" not in captured.err and "ex_s=" not in captured.err


def test_only_process_0_shows_a_bar(monkeypatch):
    # Under jax.distributed every process runs fit: the others must stay quiet even when asked.
    bar = progress_bar(10, True)
    assert not isinstance(bar, _NoBar)
    bar.close()
    as_process(monkeypatch, 1)
    assert isinstance(progress_bar(10, True), _NoBar)
    assert isinstance(progress_bar(10, None), _NoBar)
