"""What ``fit`` prints: nothing, one line per epoch, or a tqdm bar per epoch with the running loss."""

from __future__ import annotations

from typing import Any, TextIO


def format_logs(logs: dict[str, float], show_lr: bool) -> str:
    """``loss: 0.4123 - accuracy: 0.8810 - val_loss: ...`` (lr only when a scheduler moves it)."""
    parts = []
    for key, value in logs.items():
        if key == "lr":
            if show_lr:
                parts.append(f"lr: {value:.4g}")
        else:
            parts.append(f"{key}: {value:.4f}")
    return " - ".join(parts)


class Silent:
    """verbose=0: prints nothing."""

    def __init__(self, epochs: int, file: TextIO, show_lr: bool) -> None:
        self.epochs, self.file, self.show_lr = epochs, file, show_lr

    def epoch_begin(self, epoch: int, steps: int | None) -> None:
        pass

    def batch_end(self, running_loss: float) -> None:
        pass

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class Lines(Silent):
    """One plain line per epoch: ``Epoch 3/20 - loss: 0.4123 - accuracy: 0.8810``."""

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.message(f"Epoch {epoch + 1}/{self.epochs} - {format_logs(logs, self.show_lr)}")

    def message(self, text: str) -> None:
        print(text, file=self.file, flush=True)


class Bars(Lines):
    """A tqdm bar per epoch showing the running loss; the finished bar keeps the epoch's logs."""

    def __init__(self, epochs: int, file: TextIO, show_lr: bool, tqdm: Any) -> None:
        super().__init__(epochs, file, show_lr)
        self._tqdm = tqdm
        self._bar: Any = None

    def epoch_begin(self, epoch: int, steps: int | None) -> None:
        self.close()
        self._bar = self._tqdm(
            total=steps, desc=f"Epoch {epoch + 1}/{self.epochs}", unit="batch", file=self.file, leave=True
        )

    def batch_end(self, running_loss: float) -> None:
        self._bar.set_postfix_str(f"loss: {running_loss:.4f}", refresh=False)
        self._bar.update()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._bar.set_postfix_str(format_logs(logs, self.show_lr), refresh=False)
        self.close()

    def message(self, text: str) -> None:
        if self._bar is None:
            super().message(text)
        else:  # above the open bar, which stays
            self._tqdm.write(text, file=self.file)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(verbose: int, epochs: int, file: TextIO, show_lr: bool) -> Silent:
    """verbose 0: Silent; 2: Lines; 1: Bars if tqdm is installed and ``file`` is a terminal, else Lines."""
    if verbose == 0:
        return Silent(epochs, file, show_lr)
    if verbose == 1 and _isatty(file):
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return Bars(epochs, file, show_lr, tqdm)
    return Lines(epochs, file, show_lr)


def _isatty(file: TextIO) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
