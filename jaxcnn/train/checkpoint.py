"""Orbax checkpoints with a manifest: atomic, keep-last-k plus best, corrupt ones skipped.

Orbax writes each step into a temporary folder and renames it when complete, so a killed
save never looks finished to it. On top of that every finished step gets
``jaxcnn_manifest.json`` (size and SHA-256 of each file, written atomically last): a step
without a manifest, or whose files no longer match it (a truncated or edited file), is
skipped with a warning and the previous step is used instead.

Old steps are deleted the same way round: orbax renames each into ``.trash/`` (atomic), and
the trash is emptied only once the new step has its manifest. A kill mid-deletion so never
leaves a step with a manifest and missing files, and a kill before the new step's manifest
never leaves the folder without an intact step: the next writer to open the folder moves
the intact steps of the trash back, then empties it.

The state is saved as its flat list of leaves and rebuilt with the caller's tree
structure, so optax's state classes and empty collections need no special handling.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from jaxcnn._checks import positive_int
from jaxcnn._durable import write_json
from jaxcnn.train.processes import barrier, is_writer

MANIFEST = "jaxcnn_manifest.json"
TRASH = ".trash"  # not a step name, and not orbax's temporary-folder pattern


class CorruptCheckpointWarning(UserWarning):
    """A checkpoint failed its manifest check or could not be read, and was skipped."""


class Checkpointer:
    """Save and restore the training state plus JSON metadata under ``directory``.

    Args:
      directory: folder of the step checkpoints (created if missing).
      keep_last: how many of the newest checkpoints to keep; the best (highest metric among
        the checkpoints saved with one, the earliest of equals) is kept as well; an int >= 1.
      best_mode: "max" (the highest metric is best) or "min".
      read_only: open another run's checkpoints to read them: nothing is created, cleaned or
        deleted (a live run's in-progress save is left alone), and `save` is refused.

    Raises:
      TypeError / ValueError: ``keep_last`` not an int >= 1 (orbax failed obscurely on -1 or
        1.5, and 0 kept an arbitrary set).
      FileNotFoundError: ``read_only`` and ``directory`` does not exist (named).
    """

    def __init__(
        self, directory, keep_last: int = 2, best_mode: str = "max", *, read_only: bool = False
    ):
        keep_last = positive_int(keep_last, "Checkpointer", "keep_last")
        if best_mode not in ("min", "max"):
            raise ValueError(f"Checkpointer: best_mode must be 'min' or 'max', got {best_mode!r}")
        sign = 1.0 if best_mode == "max" else -1.0
        self.directory = Path(directory).absolute()
        self.read_only = read_only
        if read_only and not self.directory.is_dir():
            raise FileNotFoundError(
                f"Checkpointer: directory must be an existing checkpoint folder, got "
                f"{self.directory}"
            )
        policy = policies.AnyPreservationPolicy(
            [
                policies.LatestN(n=keep_last),
                policies.BestN(
                    # the best value; among equal ones the earliest step (as `best_index`)
                    get_metric_fn=lambda m: (sign * m["metric"], -m.get("step", 0)),
                    n=1,
                    keep_checkpoints_without_metrics=False,
                ),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=policy,
            # Only with a best_fn does orbax write each step's metrics to disk and read them
            # back when a folder is opened again: without it a resumed run saw no metrics on
            # the earlier steps, and its next save deleted the best checkpoint.
            best_fn=lambda m: sign * m["metric"],
            enable_async_checkpointing=False,  # a save is complete when save() returns
            cleanup_tmp_directories=not read_only,  # leftovers of a killed save (ours only)
            create=not read_only,
            read_only=read_only,
            save_interval_steps=0 if read_only else 1,  # orbax warns about 1 when read-only
            # renamed, not removed file by file: see the module docstring
            todelete_subdir=None if read_only else TRASH,
        )
        self.manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "meta")
        )
        if not read_only:
            if is_writer():
                self._recover_trash()
            barrier(f"trash of {self.directory}")
            self.manager.reload()  # it listed the steps before any came back from the trash
        self.latest_path: str | None = None

    def save(self, step: int, state, meta: dict, metric: float | None = None) -> str:
        """Save ``state`` (pytree of arrays) and ``meta`` (JSON-able) as ``step``.

        Returns:
          the step folder's path (also remembered as ``latest_path``).

        Raises:
          PermissionError: the checkpointer is read-only.
        """
        if self.read_only:
            raise PermissionError(f"Checkpointer: {self.directory} was opened read-only")
        if step in self.manager.all_steps():
            self.manager.delete(step)  # a corrupt leftover of an earlier, interrupted run
        leaves = {f"{i:05d}": leaf for i, leaf in enumerate(jax.tree.leaves(state))}
        meta = {**meta, "paths": _paths(state), "shapes": _shapes(state)}
        path = self._step_dir(step)
        try:
            with _quiet_missing_metric(metric is None):
                self.manager.save(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardSave(leaves), meta=ocp.args.JsonSave(meta)
                    ),
                    metrics=None
                    if metric is None
                    else {"metric": float(metric), "step": int(step)},
                )
            self.manager.wait_until_finished()
            if is_writer():  # many processes: process 0 writes, the others wait to read it
                write_json(path / MANIFEST, _manifest(path))
                shutil.rmtree(self.directory / TRASH, ignore_errors=True)
        except Exception as e:
            code = _disk_full_errno(e)
            if code is None:
                raise
            self._remove_partial(step)
            raise OSError(
                code,
                f"Checkpointer: saving step {step} under {self.directory} failed, the disk is "
                f"full ({os.strerror(code)}: {e}); the partial save was removed and the "
                "previous checkpoint kept: free some space and rerun to resume",
                str(self.directory),
            ) from e
        barrier(f"checkpoint {step}")
        self.latest_path = str(path)
        return self.latest_path

    def _recover_trash(self) -> None:
        """Move the trash's intact steps back where no intact step of that number is; empty it.

        Steps are in the trash when a run was killed after orbax deleted them (renamed them
        there) and before its new step got a manifest, or while the trash was being emptied.
        """
        trash = self.directory / TRASH
        if not trash.is_dir():
            return
        for folder in sorted(trash.iterdir()):
            if not folder.name.isdigit() or _check_manifest(folder) is not None:
                continue
            home = self._step_dir(int(folder.name))
            if _check_manifest(home) is None:
                continue  # an intact copy of this step is in place already
            shutil.rmtree(home, ignore_errors=True)
            os.replace(folder, home)
        shutil.rmtree(trash, ignore_errors=True)

    def _remove_partial(self, step: int) -> None:
        """Delete a failed save's temp folders and its step folder (it has no manifest).

        The first failing orbax thread raises while its sibling threads may still be writing
        (and creating folders) in the temp folder, so one pass of rmtree can leave a folder
        behind; the removal is repeated until nothing of the step is left, for up to 10 s.
        """
        try:
            self.manager.wait_until_finished()
        except Exception:  # the same failure again, from another thread: already handled
            pass
        deadline, clean_checks = time.monotonic() + 10.0, 0
        while True:
            leftovers = list(self.directory.glob(f"{step}.orbax-checkpoint-tmp*"))
            if self._step_dir(step).exists() and not (self._step_dir(step) / MANIFEST).is_file():
                leftovers.append(self._step_dir(step))
            clean_checks = 0 if leftovers else clean_checks + 1
            if clean_checks == 2:  # still clean 0.1 s later: no thread is writing any more
                return
            if time.monotonic() > deadline:
                warnings.warn(
                    f"Checkpointer: could not remove the partial save(s) {leftovers}; the "
                    "next run removes them when it opens the folder",
                    stacklevel=3,
                )
                return
            for p in leftovers:
                shutil.rmtree(p, ignore_errors=True)
            time.sleep(0.1)

    def restore_latest(self, like_state, config: dict | None = None):
        """The newest intact checkpoint as ``(state, meta)``, or None if there is none.

        Args:
          like_state: a state with the wanted tree structure, shapes and shardings.
          config: the current config dict; a checkpoint made with another config warns.

        Warns:
          CorruptCheckpointWarning: for each newer checkpoint that is partial or corrupt.

        Raises:
          ValueError: the newest intact checkpoint holds a state of another structure (leaf
            paths or shapes differ from ``like_state``'s: another model was trained in this
            folder). Resuming would otherwise start afresh, and its saves would delete the
            old run's checkpoints; or, with renamed leaves of the same shapes, load each array
            into another parameter.
        """
        treedef = jax.tree.structure(like_state)
        like = {f"{i:05d}": leaf for i, leaf in enumerate(jax.tree.leaves(like_state))}
        expect = (_paths(like_state), _shapes(like_state))
        found = self._newest_intact(like, lambda out: out, expect)
        if found is None:
            return None
        path, out = found
        meta = out["meta"]
        if config is not None and meta.get("config") != config:
            warnings.warn(
                f"checkpoint {path} was made with a different config; resuming anyway",
                stacklevel=2,
            )
        leaves = [out["state"][f"{i:05d}"] for i in range(len(like))]
        self.latest_path = str(path)
        return jax.tree.unflatten(treedef, leaves), meta

    def restore_step(self, step: int, like_state: Any) -> Any:
        """The state saved at ``step`` (checked against its manifest), shaped as ``like_state``.

        Raises:
          FileNotFoundError: no intact checkpoint of that step is kept.
        """
        path = self._step_dir(step)
        self.manager.reload()
        problem = "missing" if step not in self.manager.all_steps() else _check_manifest(path)
        if problem is not None:
            raise FileNotFoundError(
                f"Checkpointer: checkpoint {path} must be intact, it is {problem}"
            )
        like = {f"{i:05d}": leaf for i, leaf in enumerate(jax.tree.leaves(like_state))}
        out = self.manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(like))
        )
        leaves = [out["state"][f"{i:05d}"] for i in range(len(like))]
        return jax.tree.unflatten(jax.tree.structure(like_state), leaves)

    def restore_latest_flat(self) -> dict | None:
        """The newest intact checkpoint's state as ``{"/"-joined path: array}``, or None.

        Needs no template, so another model can read a run's parameters (transfer).
        """

        def flat(out):
            return {p: out["state"][f"{i:05d}"] for i, p in enumerate(out["meta"]["paths"])}

        found = self._newest_intact(None, flat)
        return None if found is None else found[1]

    def _newest_intact(self, template, read, expect=None):
        """``(path, read(restored))`` of the newest checkpoint that is intact, or None.

        A checkpoint is intact when its manifest matches its files and it restores (with
        ``template``, or without one when None) and ``read`` accepts it; each newer one that is
        not is skipped with a ``CorruptCheckpointWarning``. With ``expect = (paths, shapes)``
        an intact checkpoint whose saved leaf paths or shapes differ raises ``ValueError``.
        """
        self.manager.reload()
        for step in sorted(self.manager.all_steps(), reverse=True):
            path = self._step_dir(step)
            problem = _check_manifest(path)
            if problem is None and expect is not None:
                _check_structure(path, self._read_meta(step), *expect)
            if problem is None:
                try:
                    out = self.manager.restore(
                        step,
                        args=ocp.args.Composite(
                            state=ocp.args.StandardRestore(template),
                            meta=ocp.args.JsonRestore(),
                        ),
                    )
                    return path, read(out)
                except Exception as e:  # noqa: BLE001 - any read failure means: skip it
                    problem = f"unreadable ({type(e).__name__}: {e})"
            warnings.warn(
                f"checkpoint {path} is {problem}; skipped, trying an older one",
                CorruptCheckpointWarning,
                stacklevel=3,
            )
        return None

    def _read_meta(self, step: int) -> dict | None:
        """The step's JSON metadata alone, or None if it cannot be read."""
        try:
            args = ocp.args.Composite(meta=ocp.args.JsonRestore())
            return self.manager.restore(step, args=args)["meta"]
        except Exception:  # noqa: BLE001 - unreadable: the full restore will say why
            return None

    def steps(self) -> list[int]:
        """The saved steps, oldest first."""
        self.manager.reload()
        return sorted(self.manager.all_steps())

    def _step_dir(self, step: int) -> Path:
        return self.directory / str(step)


class _DropMessage(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


@contextlib.contextmanager
def _quiet_missing_metric(active: bool):
    """Hide orbax's "did not provide metrics" warning while a mid-epoch step saves.

    With a ``best_fn`` (see `Checkpointer`) orbax warns at every save without metrics; a
    mid-epoch checkpoint has none by design (it is kept as one of the newest, never as best).
    """
    if not active:
        yield
        return
    logger, drop = logging.getLogger("absl"), _DropMessage("did not provide metrics")
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _check_structure(path: Path, meta: dict | None, paths: list[str], shapes: list) -> None:
    """Raise ValueError if the checkpoint at ``path`` was saved from a state of another shape."""
    if meta is None or "paths" not in meta:
        return  # unreadable metadata: the restore fails and the step is skipped as corrupt
    saved_paths, saved_shapes = meta["paths"], meta.get("shapes")
    hint = "; resume with the model it was made with, or use another workdir"
    if saved_paths != paths:
        missing = [p for p in paths if p not in saved_paths][:3]
        extra = [p for p in saved_paths if p not in paths][:3]
        raise ValueError(
            f"checkpoint {path} holds a state of another structure: {len(saved_paths)} leaves, "
            f"the current state has {len(paths)}; only in the current state: {missing}, "
            f"only in the checkpoint: {extra}{hint}"
        )
    if saved_shapes is None:
        return  # saved before shapes were recorded
    for p, saved, wanted in zip(paths, saved_shapes, shapes, strict=True):
        if list(saved) != list(wanted):
            raise ValueError(
                f"checkpoint {path} holds a state of other shapes: {p} has shape "
                f"{tuple(saved)} there, the current state wants {tuple(wanted)}{hint}"
            )


# A full disk reaches us as OSError, or as tensorstore's ValueError with the errno in its text.
_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _disk_full_errno(error: BaseException) -> int | None:
    """ENOSPC / EFBIG / EDQUOT when ``error`` (or its cause) says the disk is full, else None."""
    e: BaseException | None = error
    while e is not None:
        if isinstance(e, OSError) and e.errno in _DISK_FULL:
            return e.errno
        text = str(e)
        m = re.search(r"os_error_code='?(\d+)", text)
        if m and int(m.group(1)) in _DISK_FULL:
            return int(m.group(1))
        if "RESOURCE_EXHAUSTED" in text or "No space left" in text:
            return errno.ENOSPC
        e = e.__cause__ or e.__context__
    return None


def _shapes(state) -> list[list[int]]:
    return [list(np.shape(leaf)) for leaf in jax.tree.leaves(state)]


def _paths(state) -> list[str]:
    from jaxcnn.train.transfer import path_str

    return [path_str(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]


def _manifest(path: Path) -> dict:
    files = {}
    for f in sorted(p for p in path.rglob("*") if p.is_file() and p.name != MANIFEST):
        files[str(f.relative_to(path))] = {"size": f.stat().st_size, "sha256": _sha256(f)}
    return {"files": files}


def _check_manifest(path: Path) -> str | None:
    """None when every file matches the manifest, else what is wrong."""
    m = path / MANIFEST
    if not m.is_file():
        return "partial (no manifest)"
    try:
        want = json.loads(m.read_text())["files"]
    except (OSError, ValueError, KeyError):
        return "corrupt (unreadable manifest)"
    for rel, info in want.items():
        f = path / rel
        if not f.is_file():
            return f"corrupt ({rel} is missing)"
        if f.stat().st_size != info["size"] or _sha256(f) != info["sha256"]:
            return f"corrupt ({rel} does not match its checksum)"
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def leaves_equal(a, b) -> bool:
    """True when two pytrees have the same structure and bit-identical leaves."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    # PyTreeDef compares at run time; mypy reads jaxlib's stub of it as an unknown type.
    if jax.tree.structure(a) != jax.tree.structure(b) or len(la) != len(lb):  # type: ignore[operator]
        return False
    # As bytes (NaN equals NaN, -0.0 differs from 0.0); flattened first: NumPy cannot view a
    # 0-d array (a step counter) as another item size.
    return all(np.array_equal(_bytes(x), _bytes(y)) for x, y in zip(la, lb, strict=True))


def _bytes(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x)).reshape(-1).view(np.uint8)
