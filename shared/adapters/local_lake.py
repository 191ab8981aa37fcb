"""``LocalLake``: the lake as a folder on disk (the embedded default)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from shared.errors import LakeError, LakeNotFound
from shared.ports import LakeItem

_TMP_PREFIX = ".c360-tmp-"


def clean_lake_path(path: str) -> str:
    """Validate a container-relative path: no absolute paths, no ``..``, no empty segments."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if not parts or path.startswith("/") or any(p in ("..", ".", "") for p in parts):
        raise LakeError(f"invalid lake path {path!r}")
    return "/".join(parts)


class LocalLake:
    """Files under a root folder; writes are atomic (temporary file, then rename)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _file(self, path: str) -> Path:
        return self.root / clean_lake_path(path)

    def read_bytes(self, path: str) -> bytes:
        try:
            return self._file(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise LakeNotFound(f"lake file not found: {path}") from exc

    @contextlib.contextmanager
    def open_read(self, path: str) -> Iterator[IO[bytes]]:
        try:
            handle = self._file(path).open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise LakeNotFound(f"lake file not found: {path}") from exc
        with handle:
            yield handle

    def write_bytes(self, path: str, data: bytes) -> LakeItem:
        with self.open_write(path) as handle:
            handle.write(data)
        return self.info(path)

    @contextlib.contextmanager
    def open_write(self, path: str) -> Iterator[IO[bytes]]:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create_exclusive(self, path: str, data: bytes) -> bool:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return True

    def info(self, path: str) -> LakeItem:
        target = self._file(path)
        try:
            stat = target.stat()
        except FileNotFoundError as exc:
            raise LakeNotFound(f"lake file not found: {path}") from exc
        if not target.is_file():
            raise LakeNotFound(f"not a file: {path}")
        return LakeItem(clean_lake_path(path), stat.st_size, f"{stat.st_mtime_ns:x}-{stat.st_size:x}",
                        datetime.fromtimestamp(stat.st_mtime, UTC))

    def exists(self, path: str) -> bool:
        return self._file(path).is_file()

    def list(self, prefix: str) -> Iterator[LakeItem]:
        base = self._file(prefix) if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for file in sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith(_TMP_PREFIX)):
            relative = file.relative_to(self.root).as_posix()
            try:
                yield self.info(relative)
            except LakeNotFound:  # deleted while listing
                continue

    def delete(self, path: str) -> None:
        self._file(path).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        base = self._file(prefix)
        if not base.is_dir():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base)
        return count

    def rename_prefix(self, source: str, target: str) -> None:
        src, dst = self._file(source), self._file(target)
        if not src.is_dir():
            raise LakeNotFound(f"lake folder not found: {source}")
        if dst.exists():
            raise LakeError(f"rename target exists: {target}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)

    def url(self, path: str) -> str:
        return str(self._file(path)) if path else str(self.root)

    def arrow_filesystem(self) -> Any:
        from pyarrow import fs

        return fs.SubTreeFileSystem(str(self.root), fs.LocalFileSystem())
