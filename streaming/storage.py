"""Where the streaming jobs keep files: a local path or any URI pyarrow understands.

The lake, the saved dedupe ids and the saved open bars all live under such a root, so they
work the same on a laptop and on object storage (s3://...).
"""

from __future__ import annotations

from pyarrow import fs


def resolve(root: str) -> tuple[fs.FileSystem, str]:
    """The filesystem behind `root` and the path within it (no trailing slash)."""
    if "://" in root:
        filesystem, path = fs.FileSystem.from_uri(root)
        return filesystem, path.rstrip("/")
    return fs.LocalFileSystem(), root.rstrip("/")


def saved_versions(filesystem: fs.FileSystem, root: str) -> list[int]:
    """Batch ids of the `<root>/<batch id>.parquet` files, oldest first (temporaries skipped)."""
    try:
        infos = filesystem.get_file_info(fs.FileSelector(root))
    except FileNotFoundError:
        return []
    return sorted(
        int(i.base_name.removesuffix(".parquet"))
        for i in infos
        if i.is_file and i.base_name.endswith(".parquet") and not i.base_name.startswith(".")
    )
