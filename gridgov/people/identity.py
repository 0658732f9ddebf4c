"""Identity numbers, phones and names: validation, what is derived from them, masking, pinyin.

Every check returns the Chinese rule it broke, so an import row, a form field and an API error
all say the same thing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from pypinyin import Style, lazy_pinyin
from stdnum import numdb
from stdnum.cn import ric

ID_TYPES = {"ric": "居民身份证", "passport": "护照", "permit": "港澳台居民居住证/通行证"}
KINDS = {"registered": "户籍人口", "floating": "流动人口", "overseas": "境外人员"}
GENDERS = {"M": "男", "F": "女"}
HOUSEHOLD_STATUSES = ("人户同在", "户在人不在", "人在户不在")
EDUCATION = ("", "学龄前", "小学", "初中", "高中", "中专", "大专", "本科", "硕士", "博士", "文盲或半文盲")

# ASCII digits: parse_phone folds the full-width ones a Chinese input method types first.
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
LANDLINE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}$")
FOREIGN_ID = re.compile(r"^[A-Z0-9]{5,20}$")
PHONE_PUNCTUATION = str.maketrans("", "", "()（）")


class IdentityError(ValueError):
    """A value that breaks a rule; `rule` is the Chinese message for the user."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


@dataclass(frozen=True)
class IdNumber:
    id_type: str
    number: str  # normalised: upper case, no spaces
    birth_date: date | None
    gender: str  # M | F | "" when the number does not tell

    @property
    def masked(self) -> str:
        return mask_id(self.number)

    @property
    def tail(self) -> str:
        return self.number[-4:]


def parse_id(value: str, id_type: str = "ric") -> IdNumber:
    if id_type not in ID_TYPES:
        raise IdentityError("证件类型必须是以下之一：" + "、".join(ID_TYPES))
    number = "".join(str(value or "").split()).upper()  # every whitespace out, as re.sub(r"\s+") would
    if not number.isascii():  # full-width digits and Ｘ typed in a Chinese input method
        number = unicodedata.normalize("NFKC", number).upper()
    if not number:
        raise IdentityError("证件号码必填")
    if id_type != "ric":
        if not FOREIGN_ID.match(number):
            raise IdentityError("证件号码只能是 5–20 位字母或数字")
        return IdNumber(id_type, number, None, "")
    if not number.isascii():  # what NFKC leaves (look-alike digits); stdnum folds them
        number = ric.compact(number)
    if len(number) == 15 and number.isdigit():  # the first-generation card: no check character to trust
        raise IdentityError("这是 15 位旧身份证号，请填写 18 位号码")
    if len(number) != 18:
        raise IdentityError("身份证号应为 18 位")
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise IdentityError("身份证号只能是数字，最后一位可以是 X")
    if number[-1] != ric.calc_check_digit(number):
        raise IdentityError("身份证号校验码不正确")
    try:  # the digits 7–14, as stdnum's get_birth_date reads them, without its second clean-up pass
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityError("身份证号中的出生日期不正确") from None
    if not _known_area(number[:6]):
        raise IdentityError("身份证号前 6 位不是有效的行政区划代码")
    if birth > date.today():
        raise IdentityError("身份证号中的出生日期不能晚于今天")
    return IdNumber("ric", number, birth, "M" if int(number[16]) % 2 else "F")


@functools.lru_cache(maxsize=8192)  # a few thousand codes exist; stdnum's lookup costs ~40 µs a call
def _known_area(code: str) -> bool:
    """Whether the address code has ever existed. stdnum's own check also demands that it existed
    in the birth year, but the code is where the number was first issued: someone born in 1950 and
    registered in 芦淞区 (created 1997) rightly holds 430203…, so that check would refuse real people."""
    return any("county" in props for _part, props in numdb.get("cn/loc").info(code))


def parse_phone(value: str) -> str:
    """Mobile numbers (11 digits, 1[3-9]…) or landlines with area code; '' when blank."""
    # NFKC: １３８ and （０７３１）－ typed in full width are the same number as 138 and (0731)-.
    phone = unicodedata.normalize("NFKC", "".join(str(value or "").split())).translate(PHONE_PUNCTUATION)
    if phone.startswith("+86"):
        phone = phone[3:].lstrip("-")
    if not phone:
        return ""
    if MOBILE.match(bare := phone.replace("-", "")):  # 138-0013-8000 as people write it
        return bare
    if LANDLINE.match(phone):
        return phone
    raise IdentityError("手机号应为 1[3-9] 开头的 11 位数字，固定电话应带区号")


def parse_mobile(value: str | None) -> str:
    """A staff member's mobile as the SMS gateway needs it: 11 digits, 1[3-9]… (DESIGN §7), from
    whatever `parse_phone` reads (spaces, dashes, +86, full-width digits); '' when blank. A landline
    is refused: a text message cannot reach it. Raises IdentityError with the Chinese rule."""
    try:
        phone = parse_phone(value or "")
    except IdentityError:
        raise IdentityError("手机号应为 1[3-9] 开头的 11 位数字") from None
    if phone and not MOBILE.match(phone):
        raise IdentityError("须为手机号：固定电话收不到短信")
    return phone


def mask_id(number: str) -> str:
    if len(number) >= 15:
        return number[:4] + "*" * (len(number) - 8) + number[-4:]
    if len(number) > 4:
        return number[:1] + "*" * (len(number) - 3) + number[-2:]
    return "*" * len(number)


def mask_phone(phone: str) -> str:
    if not phone:
        return ""
    if MOBILE.match(phone):
        return phone[:3] + "****" + phone[-4:]
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****" + phone[-4:]


def phone_tail(phone: str) -> str:
    return phone[-4:] if phone else ""


# pypinyin reads a name as ordinary words; these surnames read differently as surnames.
SURNAMES = {
    "万俟": ["mo", "qi"], "尉迟": ["yu", "chi"], "长孙": ["zhang", "sun"], "澹台": ["tan", "tai"],
    "单": ["shan"], "曾": ["zeng"], "解": ["xie"], "仇": ["qiu"], "朴": ["piao"], "查": ["zha"], "区": ["ou"],
    "乐": ["yue"], "盖": ["ge"], "繁": ["po"], "员": ["yun"], "覃": ["qin"], "缪": ["miao"], "折": ["she"],
    "翟": ["zhai"], "秘": ["bi"], "召": ["shao"], "种": ["chong"], "黑": ["he"], "重": ["chong"], "宿": ["su"],
    "藏": ["zang"], "尉": ["yu"], "都": ["du"], "沈": ["shen"], "柏": ["bai"], "葛": ["ge"], "石": ["shi"],
}


def name_syllables(name: str) -> list[str]:
    """One lower-case syllable per character (non-Chinese characters pass through lower-cased)."""
    name = name.strip()
    for surname in (name[:2], name[:1]):
        if surname in SURNAMES and len(name) > len(surname):
            return SURNAMES[surname] + _syllables(name[len(surname):])
    return _syllables(name)


def _syllables(text: str) -> list[str]:
    # Character by character: a given name is not a phrase, and the lookup caches (an import of
    # 100,000 names would otherwise spend most of its time segmenting them).
    return [s for s in map(_syllable, text) if s]


@functools.lru_cache(maxsize=65536)
def _syllable(char: str) -> str:
    part = "".join(lazy_pinyin(char, style=Style.NORMAL, errors=lambda s: list(s)))
    return re.sub(r"[^a-z0-9]", "", part.lower().replace("ü", "v"))


# The lengths of the residents' search-key columns. A name may have 60 characters, and a Latin one
# gives a letter per character to both keys (45 letters of a passport name are 45 "initials"):
# PostgreSQL refuses a longer value where SQLite keeps it, so the keys are cut to fit. A prefix
# search never types that far.
PINYIN_MAX, INITIALS_MAX = 160, 40


def pinyin_keys(name: str) -> tuple[str, str]:
    """("zhangsan", "zs") for 张三."""
    syllables = name_syllables(name)
    return "".join(syllables)[:PINYIN_MAX], "".join(s[0] for s in syllables)[:INITIALS_MAX]
