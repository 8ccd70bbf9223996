"""What may be attached to a meeting: judged by the file's content, not its name."""

import zipfile

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
ALLOWED_LABEL = "图片（JPG、PNG）、PDF 或 Word 文档"
# The type a download is served as comes from the sniffed content, never from the uploaded name.
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
SHOWN_INLINE = {"jpg", "png", "pdf"}


def sniff(head: bytes, fileobj) -> str | None:
    """The kind of file by its first bytes (and, for zip containers, its parts), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "doc"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(fileobj) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return None
        finally:
            fileobj.seek(0)
        return "docx" if "word/document.xml" in names else None
    return None


def check_upload(upload):
    """(kind, None) for an acceptable upload, else (None, Chinese message)."""
    if upload.size > MAX_BYTES:
        return None, f"“{upload.name}”超过 {MAX_BYTES // 1024 // 1024} MB。"
    head = upload.read(8)
    upload.seek(0)
    kind = sniff(head, upload)
    if kind is None:
        return None, f"“{upload.name}”不是允许的文件类型（仅限{ALLOWED_LABEL}）。"
    return kind, None
