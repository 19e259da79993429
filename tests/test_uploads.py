"""Uploads from the console land in ``inbox/<account's folder>/``: every file under its own name
(never over another, even when two arrive with the same name at the same moment), and every account
in a folder of its own."""
from __future__ import annotations

import threading

import pytest

from console.accounts import AccountError, add_user
from pipeline.intake.uploads import folder_name, save_upload, uploads_of
from processors.output import write_new

PASSWORD = "correct horse battery staple"


@pytest.fixture
def ws(tmp_path, cli):
    from pipeline.workspace import open_workspace

    cli("init", tmp_path / "ws", expect=0)
    w = open_workspace(tmp_path / "ws")
    yield w
    w.close()


def test_write_new_never_replaces_a_file(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"first")
    second = write_new(tmp_path, "a.jpg", b"second")
    third = write_new(tmp_path, "a.jpg", b"third")
    assert (second.name, third.name) == ("a (2).jpg", "a (3).jpg")
    assert [(tmp_path / n).read_bytes() for n in ("a.jpg", "a (2).jpg", "a (3).jpg")] == [b"first", b"second", b"third"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a (2).jpg", "a (3).jpg", "a.jpg"]  # no temporary left


def test_uploads_with_the_same_name_at_the_same_moment_are_all_kept(tmp_path):
    # Two browser tabs sending IMG_0001.jpg at once: each is told "saved", so each must be there.
    from pipeline.workspace import open_workspace
    from click.testing import CliRunner

    from pipeline.cli import main

    root = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    start = threading.Barrier(8)
    saved, errors = [], []

    def upload(i: int) -> None:
        w = open_workspace(root)  # (a connection per thread, as the server has)
        try:
            start.wait()
            saved.append(save_upload(w, "staff1", "IMG_0001.jpg", b"\xff\xd8 photo %d" % i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            w.close()

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    folder = root / "inbox" / "staff1"
    assert len({r["name"] for r in saved}) == 8
    contents = sorted((folder / r["name"]).read_bytes() for r in saved)
    assert contents == sorted(b"\xff\xd8 photo %d" % i for i in range(8))
    assert len(list(folder.iterdir())) == 8


def test_every_account_has_its_own_upload_folder(ws):
    add_user(ws.db, "staffa", "staff", PASSWORD, actor="test")
    for clash in ("staffa.", "staffa.."):
        with pytest.raises(AccountError, match="share one folder"):
            add_user(ws.db, clash, "staff", PASSWORD, actor="test")
    add_user(ws.db, "staffa_", "staff", PASSWORD, actor="test")  # a folder of its own
    assert folder_name("staffa_") != folder_name("staffa")
    save_upload(ws, "staffa", "same.jpg", b"\xff\xd8 a")
    save_upload(ws, "staffa_", "same.jpg", b"\xff\xd8 b")
    assert (ws.root / "inbox" / "staffa" / "same.jpg").read_bytes() == b"\xff\xd8 a"
    assert (ws.root / "inbox" / "staffa_" / "same.jpg").read_bytes() == b"\xff\xd8 b"
    assert [u["name"] for u in uploads_of(ws, "staffa_")] == ["same.jpg"]
