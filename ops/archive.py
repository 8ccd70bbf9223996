"""The backup archive: one .tar.gz holding the database dump, the uploaded files under media/ and
manifest.json. No Django here: writing, and unpacking with every member checked before anything is used.

The manifest is the last member so that each file's SHA-256 is taken while it is copied in (one read);
unpacking reads the whole archive anyway, because a truncated or altered archive must be refused before
the database is touched.
"""

import gzip
import hashlib
import json
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath

MANIFEST = "manifest.json"
MEDIA_DIR = "media"
DATABASE_MEMBERS = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
FORMAT = "zhibu-backup"
FORMAT_VERSION = 1
_CHUNK = 1 << 20


class ArchiveError(Exception):
    """The archive cannot be used; the message is for the person restoring."""


class _HashingReader:
    def __init__(self, raw):
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size=-1):
        data = self.raw.read(size)
        self.digest.update(data)
        return data


def media_files(media_root, *, skip=()):
    """(archive name, path) of every regular file under MEDIA_ROOT, in a stable order. Links are left
    out: a link could point anywhere on the server, and the system never makes one."""
    root = Path(media_root)
    if not root.is_dir():
        return []
    skipped = {Path(p).resolve() for p in skip}
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file() or path.resolve() in skipped:
                continue
            found.append((f"{MEDIA_DIR}/{path.relative_to(root).as_posix()}", path))
    return found


def write(path, *, manifest, files):
    """Write the archive to `path` (via a .partial file renamed at the end, so a crash never leaves a
    half archive under a backup's name). `files` is [(archive name, path)]; the manifest gets their
    sizes and hashes. Returns the manifest as written."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    entries = {}
    try:
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for name, source in files:
                with open(source, "rb") as raw:
                    info = tar.gettarinfo(fileobj=raw, arcname=name)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    reader = _HashingReader(raw)
                    tar.addfile(info, reader)
                entries[name] = {"size": info.size, "sha256": reader.digest.hexdigest()}
            manifest = {**manifest, "files": entries}
            data = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(os.path.getmtime(partial))
            info.mode = 0o644
            tar.addfile(info, _BytesReader(data))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return manifest


class _BytesReader:
    def __init__(self, data):
        self.data = memoryview(data)
        self.position = 0

    def read(self, size=-1):
        end = len(self.data) if size is None or size < 0 else self.position + size
        chunk = bytes(self.data[self.position : end])
        self.position += len(chunk)
        return chunk


def member_name(name):
    """The normalised name of an archive member, or ArchiveError for anything that could land outside
    the staging folder (absolute paths, '..', backslashes) or that a backup never contains."""
    if not name or "\x00" in name or "\\" in name:
        raise ArchiveError(f"备份文件中有不安全的文件名：{name!r}，已拒绝恢复。")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise ArchiveError(f"备份文件中有不安全的路径：{name}，已拒绝恢复。")
    parts = [part for part in path.parts if part != "."]
    if not parts:
        raise ArchiveError(f"备份文件中有不安全的路径：{name!r}，已拒绝恢复。")
    expected = parts == [MANIFEST] or parts[0] == MEDIA_DIR or parts[0] in DATABASE_MEMBERS.values()
    if not expected or (parts[0] != MEDIA_DIR and len(parts) > 1):
        raise ArchiveError(f"备份文件中有不属于备份的内容：{name}，已拒绝恢复。")
    return "/".join(parts)


def unpack(path, into):
    """Extract the archive into the folder `into`, checking every member, and return its manifest once
    every file matches the size and SHA-256 the manifest records."""
    into = Path(into).resolve()
    found = {}
    try:
        with gzip.open(path, "rb") as stream:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    name = member_name(member.name)
                    if member.isdir():
                        continue
                    if not member.isreg():
                        raise ArchiveError(f"备份文件中有链接或特殊文件：{member.name}，已拒绝恢复。")
                    found[name] = _extract(tar, member, into, name)
            # tarfile stops at the end-of-archive blocks; reading on to the end makes gzip check its
            # length and CRC, so a cut or altered tail is noticed too.
            while stream.read(_CHUNK):
                pass
    except ArchiveError:
        raise
    except FileNotFoundError as exc:
        raise ArchiveError(f"找不到备份文件：{path}") from exc
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise ArchiveError(f"备份文件已损坏或不完整，无法恢复（{exc}）。") from exc
    return _verified_manifest(into, found)


def _extract(tar, member, into, name):
    target = into.joinpath(*name.split("/"))
    if into not in target.resolve().parents:
        raise ArchiveError(f"备份文件中有不安全的路径：{member.name}，已拒绝恢复。")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    digest = hashlib.sha256()
    try:
        out = open(target, "xb")  # noqa: SIM115 - closed below; write errors are told apart from read errors
    except FileExistsError as exc:
        raise ArchiveError(f"备份文件中同一文件出现两次：{name}，已拒绝恢复。") from exc
    with out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            try:
                out.write(chunk)
            except OSError as exc:
                raise ArchiveError(
                    f"解压备份时无法写入临时目录（{exc}），请检查磁盘空间或设置 TMPDIR。"
                ) from exc
    return {"size": member.size, "sha256": digest.hexdigest()}


def _verified_manifest(into, found):
    if MANIFEST not in found:
        raise ArchiveError("备份文件中没有 manifest.json，不是本系统生成的备份。")
    try:
        manifest = json.loads((into / MANIFEST).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError("备份文件中的 manifest.json 已损坏。") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError("备份文件中的 manifest.json 不是本系统的格式。")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArchiveError(f"备份格式版本 {manifest.get('format_version')} 不受当前程序支持。")
    listed = manifest.get("files") or {}
    del found[MANIFEST]
    if set(listed) != set(found):
        missing = sorted(set(listed) - set(found))
        extra = sorted(set(found) - set(listed))
        raise ArchiveError(f"备份文件内容与清单不符（缺少 {missing[:5]}，多出 {extra[:5]}），已拒绝恢复。")
    for name, entry in found.items():
        if listed[name] != entry:
            raise ArchiveError(f"备份中的文件 {name} 校验和不符，备份已损坏，已拒绝恢复。")
    return manifest
