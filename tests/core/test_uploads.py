"""Uploaded photos (`gridgov.core.uploads`): checked from their bytes, and on disk only if the
transaction that stored them commits."""

from __future__ import annotations

import uuid

import pytest

from gridgov.core.errors import ValidationFailed
from gridgov.core.uploads import image_path, store_image
from tests.cases.test_browser import tiny_png


def png(tmp_path) -> bytes:
    path = tmp_path / f"{uuid.uuid4().hex}.png"
    tiny_png(path)
    return path.read_bytes() + uuid.uuid4().bytes  # trailing bytes: a photo of its own, its own file


def test_a_photo_is_kept_when_its_transaction_commits_and_gone_when_it_does_not(app, sessions, tmp_path):
    settings = app.state.settings
    with sessions() as db:
        kept = store_image(db, settings, "a.png", png(tmp_path))
        db.commit()
    with sessions() as db:
        dropped = store_image(db, settings, "b.png", png(tmp_path))
        nested = db.begin_nested()  # a savepoint's release is not the commit
        inner = store_image(db, settings, "c.png", png(tmp_path))
        nested.commit()
        db.rollback()
    with sessions() as db:
        again = store_image(db, settings, "a.png", (image_path(settings, kept.sha256)).read_bytes())
        db.rollback()  # the file was there before this transaction: it stays
    assert image_path(settings, kept.sha256).exists() and again.sha256 == kept.sha256
    assert not image_path(settings, dropped.sha256).exists() and not image_path(settings, inner.sha256).exists()


@pytest.mark.parametrize("data, rule", [(b"", "文件为空"), (b"GIF89a....", "只接受"), (None, "不能超过 10 MB")])
def test_what_is_not_a_photo_is_refused_by_field(app, sessions, data, rule):
    data = b"\xff\xd8\xff" + bytes(10 << 20) if data is None else data  # a JPEG's start, 10 MB after it
    with sessions() as db, pytest.raises(ValidationFailed) as refused:
        store_image(db, app.state.settings, "x.jpg", data, field="file")
    assert rule in refused.value.fields["file"].render("zh")
