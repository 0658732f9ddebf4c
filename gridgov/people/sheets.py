"""The Excel layouts of the people register: columns of each kind, reading a cell, and templates.

Four kinds are exchanged: 居民 (residents), 房屋 (houses), 人房关系 (relations) and 标签 (tags, one
sheet per special group, its columns being that group's details). Headers are Chinese; the
residents' headers are those of `FIELD_LABELS`, so an unmasked export imports back. A template
has the headers, text-formatted code columns, drop-downs for every closed list, and a 填写说明
sheet with the rules and an example row (fictitious ID numbers with valid checksums).
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.datavalidation import DataValidation
from stdnum.cn import ric

from gridgov.core.errors import Choices, FieldProblem
from gridgov.people.houses import OWNERSHIPS, RELATIONS, USES
from gridgov.people.identity import EDUCATION, GENDERS, HOUSEHOLD_STATUSES, ID_TYPES, KINDS
from gridgov.people.service import FIELD_LABELS
from gridgov.people.tagging import DetailField, detail_fields

KIND_NAMES = {"residents": "居民", "houses": "房屋", "relations": "人房关系", "tags": "标签"}
MODES = {"all_or_nothing": "全部正确才导入", "good_rows": "只导入正确的行"}
NOTES_SHEET = "填写说明"
YES, NO = ("是", "1", "true", "y", "yes"), ("否", "0", "false", "n", "no", "")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = False
    text: bool = False  # a code or number kept as text (leading zeros, 18 digits)
    choices: tuple[str, ...] = ()  # what the drop-down offers
    rule: str = ""  # the 填写说明 line
    example: object = ""


def _col(key, header, required=False, text=False, choices=(), rule="", example="") -> Column:
    return Column(key, header, required, text, tuple(choices), rule, example)


def example_id(birth: str = "19800101", sequence: int = 997) -> str:
    """A valid-checksum ID number nobody holds: sequence 99x is kept out of every generated set."""
    body = f"430203{birth}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


L = FIELD_LABELS
ID_TYPE_RULE = "、".join(ID_TYPES.values()) + "；留空为居民身份证"
ID_RULE = "18 位居民身份证号（校验码须正确），或 5–20 位护照、通行证号码；请设为文本格式"
GRID_RULE = "14 位网格编码，须在您的管辖范围内"
DATE_RULE = "日期，如 2026-01-31"

RESIDENT_COLUMNS = [
    _col("name", L["name"], True, rule="必填", example="王晓明"),
    _col("id_type", L["id_type"], choices=ID_TYPES.values(), rule=ID_TYPE_RULE, example="居民身份证"),
    _col("id_number", L["id_number"], True, True, rule=ID_RULE, example=example_id()),
    _col("kind", L["kind"], choices=KINDS.values(), rule="、".join(KINDS.values()) + "；留空按证件类型判断",
         example="户籍人口"),
    _col("grid_code", L["grid_code"], True, True, rule=GRID_RULE, example="43020300100101"),
    _col("phone", L["phone"], text=True, rule="11 位手机号，或带区号的固定电话", example="13900000000"),
    _col("gender", L["gender"], choices=GENDERS.values(), rule="男、女；身份证号已含性别时以证号为准"),
    _col("birth_date", L["birth_date"], rule=DATE_RULE + "；身份证号已含出生日期时以证号为准"),
    _col("nationality", L["nationality"], rule="留空：身份证为中国", example="中国"),
    _col("ethnicity", L["ethnicity"], example="汉族"),
    _col("education", L["education"], choices=[e for e in EDUCATION if e], example="高中"),
    _col("occupation", L["occupation"], example="个体经营"),
    _col("employer", L["employer"]),
    _col("hukou_address", L["hukou_address"], example="湖南省株洲市芦淞区建设中路1号"),
    _col("address", L["address"], example="建设中路1号3栋2单元201室"),
    _col("household_status", L["household_status"], choices=HOUSEHOLD_STATUSES, example="人户同在"),
    _col("notes", L["notes"]),
]

HOUSE_COLUMNS = [
    _col("grid_code", "所属网格", True, True, rule=GRID_RULE, example="43020300100101"),
    _col("building", "楼栋名称", True, rule="同一网格内楼栋名称唯一；不存在的楼栋按此行新建", example="建设小区3栋"),
    _col("building_address", "楼栋地址", example="建设中路1号"),
    _col("floors", "总层数", rule="1–200 的整数", example=6),
    _col("structure", "建筑结构", example="砖混"),
    _col("lon", "经度", rule="WGS-84，经纬度须同时填写"),
    _col("lat", "纬度"),
    _col("unit", "单元", text=True, example="2"),
    _col("room", "房号", True, True, rule="必填；同一楼栋单元内唯一", example="201"),
    _col("floor", "所在楼层", rule="整数", example=2),
    _col("area_m2", "建筑面积（㎡）", rule="大于 0 的数字", example=89.5),
    _col("use", "房屋用途", choices=USES, rule="、".join(USES) + "；留空为住宅", example="住宅"),
    _col("ownership", "产权性质", choices=OWNERSHIPS, rule="、".join(OWNERSHIPS) + "；留空为商品房",
         example="商品房"),
    _col("rented", "是否出租", choices=("是", "否"), rule="是 或 否", example="否"),
    _col("notes", "备注"),
]

RELATION_COLUMNS = [
    _col("id_type", L["id_type"], choices=ID_TYPES.values(), rule=ID_TYPE_RULE, example="居民身份证"),
    _col("id_number", L["id_number"], True, True, rule=ID_RULE + "；须已登记在册", example=example_id()),
    _col("name", L["name"], rule="仅供核对，导入时不使用", example="王晓明"),
    _col("grid_code", "所属网格", True, True, rule="房屋所在网格；" + GRID_RULE, example="43020300100101"),
    _col("building", "楼栋名称", True, rule="须已登记", example="建设小区3栋"),
    _col("unit", "单元", text=True, example="2"),
    _col("room", "房号", True, True, example="201"),
    _col("relation", "关系", True, choices=RELATIONS, rule="、".join(RELATIONS), example="居住"),
    _col("start_date", "开始日期", rule=DATE_RULE, example="2020-05-01"),
    _col("end_date", "结束日期", rule=DATE_RULE + "；不早于开始日期，留空表示仍在"),
    _col("note", "备注"),
]

TAG_ID_COLUMNS = [
    _col("id_type", L["id_type"], choices=ID_TYPES.values(), rule=ID_TYPE_RULE, example="居民身份证"),
    _col("id_number", L["id_number"], True, True, rule=ID_RULE + "；须已登记在册", example=example_id()),
    _col("name", L["name"], rule="仅供核对，导入时不使用", example="王晓明"),
]
DETAIL_EXAMPLES = {"text": "", "date": "2026-01-31", "int": 1, "phone": "13900000000"}


def tag_columns(code: str) -> list[Column]:
    """A tag sheet: who, then the group's own details (by their labels)."""
    out = list(TAG_ID_COLUMNS)
    for f in detail_fields(code):
        out.append(_col(f"details.{f.key}", f.label, f.required, f.type in ("phone", "int"), f.choices,
                        _detail_rule(f), f.choices[0] if f.choices else DETAIL_EXAMPLES.get(f.type, "")))
    return out


def _detail_rule(f: DetailField) -> str:
    parts = ["必填"] if f.required else []
    if f.type == "date":
        parts.append(DATE_RULE)
    elif f.type == "int":
        parts.append(f"0–{f.max_value} 的整数" if f.max_value is not None else "整数")
    elif f.type == "phone":
        parts.append("手机号或带区号的固定电话")
    elif f.choices:
        parts.append("、".join(f.choices))
    return "；".join(parts)


def columns_for(kind: str, tag_code: str = "") -> list[Column]:
    return {"residents": RESIDENT_COLUMNS, "houses": HOUSE_COLUMNS, "relations": RELATION_COLUMNS}.get(
        kind) or tag_columns(tag_code)


# --- reading a cell ---

def text(value) -> str:
    """A cell as trimmed text; whole numbers lose the '.0' Excel gives them."""
    if type(value) is str:  # most cells: a 100,000-row import reads 1.7 million of them
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def code(value) -> str:
    """A code (grid, building number) as text, full-width digits and letters folded to ASCII."""
    raw = text(value)
    return raw if raw.isascii() else unicodedata.normalize("NFKC", raw).strip()


DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
MIDNIGHT = re.compile(r"\s+0{1,2}:00(?::00(?:\.0+)?)?$")  # 1956-03-04 00:00:00, as a date pasted as text reads
# A number in a date column is a date serial as Excel stores it (a cell that lost its date format),
# from 3000 (1908-03-18) up: a smaller one, such as 1956, is a year or a slip, not a date.
SERIAL_MIN, SERIAL_MAX = 3000, 2958465


def as_date(value) -> date | None:
    """A date cell, an Excel date serial (a number from 3000 up), or text such as 2026-01-31,
    2026/1/31, 2026.1.31, 2026年1月31日, 20260131 (full-width digits too). Raises ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and not (
            10_000_000 <= value <= 99_999_999 and value == int(value)):  # 19560304 typed as a number
        if not SERIAL_MIN <= value <= SERIAL_MAX:  # NaN too
            raise ValueError(text(value))
        return from_excel(value).date()
    raw = text(value)
    if not raw:
        return None
    if not raw.isascii():
        raw = unicodedata.normalize("NFKC", raw).strip()
    raw = MIDNIGHT.sub("", raw)
    m = DATE_TEXT.match(raw)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    if re.fullmatch(r"\d{8}", raw):
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    raise ValueError(raw)


def header_key(value) -> str:
    """A column header as compared: full-width forms folded, blanks and line breaks dropped, and the
    marks of a required column (a star, （必填）) taken off, so 证件号码\n（必填） is 证件号码."""
    raw = text(value)
    if not raw.isascii():
        raw = unicodedata.normalize("NFKC", raw)
    return "".join(raw.split()).replace("(必填)", "").strip("*")


def as_int(value) -> int | None:
    raw = text(value)
    if not raw:
        return None
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(raw)
    return int(raw)


def as_float(value) -> float | None:
    raw = text(value)
    return float(raw) if raw else None


def as_flag(value) -> bool:
    raw = text(value).lower()
    if raw in YES:
        return True
    if raw in NO:
        return False
    raise ValueError(raw)


def choice(value, options: dict[str, str], aliases: dict[str, str] | None = None) -> str | None:
    """A code from its code, its Chinese label or an alias; '' for blank, None when unknown."""
    raw = text(value)
    if not raw:
        return ""
    if raw in options:
        return raw
    for code, label in options.items():
        if raw == label:
            return code
    return (aliases or {}).get(raw)


ID_TYPE_ALIASES = {"身份证": "ric", "居民身份证号": "ric", "通行证": "permit", "居住证": "permit"}
KIND_ALIASES = {"户籍": "registered", "流动": "floating", "境外": "overseas", "外籍": "overseas"}
DATE_PROBLEM = "{label}应为日期，如 2026-01-31"
NUMBER_ID_PROBLEM = "证件号码应设为文本格式：Excel 只保留数字的前 15 位，后几位已变成 0"


def one_of(options) -> FieldProblem:
    return FieldProblem("必须是以下之一：{expected}", expected=Choices(options))  # each option translated


# --- templates ---

def template_workbook(kind: str, tag_kinds: list[tuple[str, str]] | None = None) -> bytes:
    """The empty workbook for `kind`; for tags, one sheet per (code, name) of `tag_kinds`."""
    wb = Workbook()
    wb.remove(wb.active)
    if kind == "tags":
        sheets = [(name, tag_columns(code)) for code, name in tag_kinds or []]
    else:
        sheets = [(KIND_NAMES[kind], columns_for(kind))]
    for title, columns in sheets:
        _data_sheet(wb.create_sheet(title[:31]), columns)
    notes = wb.create_sheet(NOTES_SHEET)
    notes.append(["工作表", "列", "必填", "说明", "示例"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for title, columns in sheets:
        for c in columns:
            notes.append([title, c.header, "是" if c.required else "", c.rule, c.example])
    notes.append([])
    notes.append(["", "说明", "",
                  "第 1 行是列名，从第 2 行起每行一条；多出的列在导入时忽略。示例中的证件号码是虚构的。"])
    for letter, width in zip("ABCDE", (14, 18, 6, 70, 28), strict=True):
        notes.column_dimensions[letter].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _data_sheet(ws, columns: list[Column], rows: int = 5000) -> None:
    ws.append([c.header for c in columns])
    red, bold = Font(bold=True, color="C00000"), Font(bold=True)
    for i, c in enumerate(columns, start=1):
        cell = ws.cell(1, i)
        cell.font = red if c.required else bold
        if c.rule:
            cell.comment = Comment(c.rule, "GridGov")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(10, len(c.header) * 2 + 4)
        if c.text:
            ws.column_dimensions[letter].number_format = "@"
            for r in range(2, 202):  # typed cells keep text format (whole columns do in Excel, not in all readers)
                ws.cell(r, i).number_format = "@"
        if c.choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(c.choices) + '"', allow_blank=True,
                                showErrorMessage=True, error="请从下拉列表中选择", errorTitle=c.header)
            dv.add(f"{letter}2:{letter}{rows + 1}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
