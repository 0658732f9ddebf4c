"""What an import writes when it is not alone or does not finish: the same file uploaded twice at
once (a retry on a bad connection, two admins with overlapping files) is written once, for every
kind; an all_or_nothing run that fails while writing leaves nothing written (through the API and
the CLI) and shows its progress while it writes; a good_rows run that fails says what it wrote."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gridgov.people import import_kinds, imports
from gridgov.people.models import Building, House, Residence, Resident, ResidentTag
from tests.people.conftest import COMMUNITY, GRID, fake_id, fake_phone
from tests.people.excel_helpers import (
    HOUSE_HEADERS,
    RELATION_HEADERS,
    ended,
    person,
    principal,
    residents_xlsx,
    upload,
    xlsx,
)


def _post(client, headers, data: bytes, kind: str, mode: str) -> int:
    r = client.post("/api/v1/people/imports", headers=headers, data={"kind": kind, "mode": mode, "source": "民政局"},
                    files={"file": ("导入.xlsx", data, "application/octet-stream")})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _meet_at_first_write(monkeypatch) -> None:
    """Two runs reach their first write at the same moment (without it, a small file is written
    before the second upload has been checked)."""
    barrier = threading.Barrier(2, timeout=20)
    real = imports._Writer.flush

    def flush(self):
        if self.pending and not getattr(self, "_met", False):
            self._met = True
            barrier.wait()
        return real(self)

    monkeypatch.setattr(imports._Writer, "flush", flush)


def _files(client, headers) -> tuple[str, dict[str, bytes]]:
    building = f"重传小区{fake_id()[-7:-1]}栋"
    numbers = [fake_id() for _ in range(6)]
    run = upload(client, headers, residents_xlsx([person(n, GRID, f"重传{i}") for i, n in enumerate(numbers)]))
    assert run["imported_rows"] == 6, run
    houses = [{"所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": f"{101 + i}"} for i in range(6)]
    relations = [{"证件号码": n, "所属网格": GRID, "楼栋名称": building, "单元": "1", "房号": f"{101 + i}",
                  "关系": "居住", "开始日期": "2024-01-01"} for i, n in enumerate(numbers)]
    tags = [{"证件号码": n, "紧急联系人": "王某", "紧急联系电话": fake_phone()} for n in numbers]
    return building, {
        "houses": xlsx({"房屋": (HOUSE_HEADERS, houses)}),
        "relations": xlsx({"人房关系": (RELATION_HEADERS, relations)}),
        "tags": xlsx({"独居老人": (["证件号码", "姓名", "紧急联系人", "紧急联系电话"], tags)}),
    }


@pytest.mark.parametrize("mode", ["all_or_nothing", "good_rows"])
def test_the_same_file_uploaded_twice_at_once_is_written_once(client, auth, sessions, mode, monkeypatch):
    headers = auth(COMMUNITY)
    building, files = _files(client, headers)
    for kind in ("houses", "relations", "tags"):
        with monkeypatch.context() as m:
            _meet_at_first_write(m)
            first, second = (_post(client, headers, files[kind], kind, mode) for _ in range(2))
            runs = [ended(client, headers, first), ended(client, headers, second)]
        assert [r["status"] for r in runs] == ["done", "done"], (kind, runs)
        # One wrote the six (a tag the relations' rules proposed is confirmed: updated); the other found them.
        assert sorted("未变 6" in r["message"] for r in runs) == [False, True], (kind, runs)
        assert all(r["imported_rows"] == 6 and r["bad_rows"] == 0 for r in runs), (kind, runs)
    with sessions() as db:
        building_id = db.scalar(select(Building.id).where(Building.name == building))
        houses = db.scalars(select(House.id).where(House.building_id == building_id)).all()
        assert len(houses) == 6
        assert db.scalar(select(func.count()).select_from(Residence).where(Residence.house_id.in_(houses))) == 6
        people = select(Residence.resident_id).where(Residence.house_id.in_(houses))
        assert db.scalar(select(func.count()).select_from(ResidentTag).where(
            ResidentTag.resident_id.in_(people), ResidentTag.tag_code == "living_alone",
            ResidentTag.status == "active")) == 6


def _failing_second_batch(monkeypatch, seen: list | None = None, who=None, sessions=None):
    """Batches of 2 rows; writing the second one fails as a database would (after the first was
    written). `seen` gets the run's progress as the API would show it at that moment."""
    monkeypatch.setattr(imports, "WRITE_ROWS", 2)
    monkeypatch.setattr(imports, "BATCH", 2)
    real = import_kinds.ResidentImporter.write
    calls = []

    def write(self, db, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            if seen is not None:
                with sessions() as other:
                    run = imports.get_run(other, who, max(other.scalars(select(imports.ImportRun.id))))
                    seen.append((run.status, run.message, run.imported_rows, imports.progress_of(run)))
            raise RuntimeError("the database went away")
        return real(self, db, batch)

    monkeypatch.setattr(import_kinds.ResidentImporter, "write", write)


def _count(sessions, prefix: str) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(Resident).where(Resident.name.like(prefix + "%")))


def test_all_or_nothing_that_fails_while_writing_writes_nothing_and_showed_its_progress(client, auth, sessions,
                                                                                      monkeypatch):
    seen: list = []
    _failing_second_batch(monkeypatch, seen, principal(sessions, COMMUNITY), sessions)
    rows = [person(fake_id(), GRID, f"全有全无{i}") for i in range(5)]
    run = upload(client, auth(COMMUNITY), residents_xlsx(rows), mode="all_or_nothing")
    assert (run["status"], run["imported_rows"]) == ("failed", 0), run
    assert "服务器内部错误" in run["message"] and "未写入任何数据" in run["message"]
    assert _count(sessions, "全有全无") == 0
    # While it wrote, the run said so, with the rows of its first batch (not yet committed).
    assert seen == [("running", "正在写入", 2, 70)]


def test_good_rows_that_fails_while_writing_says_what_it_wrote(client, auth, sessions, monkeypatch):
    _failing_second_batch(monkeypatch)
    rows = [person(fake_id(), GRID, f"只导正确{i}") for i in range(5)]
    run = upload(client, auth(COMMUNITY), residents_xlsx(rows), mode="good_rows")
    assert (run["status"], run["imported_rows"]) == ("failed", 2), run
    assert "中断前已写入 2 行" in run["message"] and _count(sessions, "只导正确") == 2
    en = client.get(f"/api/v1/people/imports/{run['id']}", params={"lang": "en"}, headers=auth(COMMUNITY)).json()
    assert "2 rows were written before it stopped" in en["message"]


def test_cli_all_or_nothing_that_fails_while_writing_writes_nothing(sessions, app, tmp_path, monkeypatch, cli_on_app):
    from gridgov.cli import app as cli

    _failing_second_batch(monkeypatch)
    path = tmp_path / "five.xlsx"
    path.write_bytes(residents_xlsx([person(fake_id(), GRID, f"命令行全无{i}") for i in range(5)]))
    r = CliRunner().invoke(cli, ["import", "residents", str(path), "--mode", "all_or_nothing", "--as", COMMUNITY])
    assert r.exit_code == 2, r.output
    assert "未写入任何数据" in r.output.replace("\n", "") and _count(sessions, "命令行全无") == 0
