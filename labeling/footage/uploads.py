"""Uploads arrive encrypted: with a data key configured, a file larger than Django keeps in
memory streams from the request straight into AERIE_UPLOAD_DIR through crypto.LocalWriter,
instead of into Django's plaintext temporary file. Without a key this handler steps aside and
Django's own handlers run as before (settings.FILE_UPLOAD_HANDLERS)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers

from labeling.footage import crypto


class EncryptedUpload(UploadedFile):
    """An uploaded file kept encrypted on disk; reading it decrypts as it goes. Ingest adopts the
    file (a rename, no copy); a file nobody adopts is removed when the request closes it."""

    def __init__(self, path: Path, name, content_type, size, charset, content_type_extra=None):
        self.path = path
        super().__init__(crypto.open_local(path), name, content_type, size, charset, content_type_extra)

    def adopt_encrypted(self, dest: Path) -> bool:
        """Move the encrypted file to `dest` (same folder); False if it is gone already."""
        if not self.path.exists():
            return False
        self.file.close()
        os.replace(self.path, dest)
        return True

    def close(self):
        try:
            return self.file.close()
        finally:
            self.path.unlink(missing_ok=True)


class EncryptingUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.active, self.writer, self.path = False, None, None

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.active = crypto.keyring().enabled
        if not self.active:
            return
        folder = Path(settings.AERIE_UPLOAD_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f".incoming-{uuid.uuid4().hex}"
        self.writer = crypto.LocalWriter(self.path)
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data, start):
        if not self.active:
            return raw_data
        self.writer.write(raw_data)
        return None

    def file_complete(self, file_size):
        if not self.active:
            return None
        self.active = False
        self.writer.close()
        return EncryptedUpload(self.path, self.file_name, self.content_type, file_size, self.charset,
                               self.content_type_extra)

    def upload_interrupted(self):
        if self.active and self.writer is not None:
            self.writer.close(keep=False)
            self.active = False
