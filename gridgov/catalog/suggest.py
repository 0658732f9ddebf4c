"""Suggest catalog items for a free-text description (DESIGN §5: "suggest a category from the
description — keywords and past cases").

Three kinds of evidence, each weighted by how distinctive it is (a word most items share says
little):

- catalog terms found in the description: an item's keywords, its name, its 小类/大类 names;
- the description's own words (jieba, with the catalog's keywords as user words) found inside an
  item's text, which catches partial overlaps the whole terms miss;
- what dispatchers chose before: a per-process index of word → {item: number of past cases},
  built from cases that have left the `reported` state and were not voided.

Both indexes are cached per database and process. One small query says whether they are still
current; it is asked at most once every `CHECK_SECONDS` (a busy intake suggests for every case it
is sent, and that query and the refresh behind it were a fifth of a case's cost), so a change
made by another process, or outside the catalog service, is seen within that second. The catalog
index is rebuilt when the catalog changes (and on `forget()`, which the service calls after its
writes). The past-cases index is refreshed when the newest change to any case moves, reading only
the cases changed since it last looked, and rebuilt from scratch every few minutes, which also
catches what a refresh cannot see (a transaction that commits after a later one).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from gridgov.catalog.models import CatalogItem, Category
from gridgov.catalog.service import CATALOG_KEY, ITEM_LOAD
from gridgov.core.db import database_key
from gridgov.core.i18n import translate
from gridgov.regions.service import meta_version

TTL_SECONDS = 300
CHECK_SECONDS = 1.0  # how often a process asks whether its indexes are current
MAX_PAST_CASES = 20000
REFRESH_LIMIT = 2000  # changed cases taken in one incremental refresh; more rebuilds
MIN_RAW = 0.3
SCALE = 4.0  # raw evidence → score: raw / (raw + SCALE)
WEIGHTS = {"keyword": 3.0, "name": 4.0, "name_part": 1.5, "minor": 1.2, "minor_part": 0.7, "major": 0.5,
           "partial": 0.6, "past": 4.0}
EXCLUDED_STATES = ("reported", "voided")
STOPWORDS = frozenset([
    "的", "了", "着", "过", "和", "与", "及", "或", "也", "都", "就", "还", "又", "很", "太", "在", "是", "有", "没",
    "没有", "没人", "无人", "一个", "一些", "一堆", "一直", "这个", "那个", "这里", "那里", "这边", "那边", "我们",
    "你们", "他们", "她们", "它们", "自己", "大家", "有人", "什么", "怎么", "为什么", "如何", "请", "请求", "麻烦",
    "希望", "要求", "反映", "反应", "情况", "问题", "处理", "解决", "现在", "今天", "昨天", "最近", "已经", "经常",
    "总是", "每天", "晚上", "早上", "中午", "下午", "上午", "时候", "一下", "一点", "非常", "严重", "比较", "特别",
    "附近", "旁边", "对面", "门口", "前面", "后面", "里面", "外面", "上面", "下面", "这样", "那样", "但是", "因为",
    "所以", "如果", "而且", "可以", "不能", "不会", "不要", "需要", "出现", "发现", "看到", "存在", "导致", "造成",
    "影响", "相关", "部门", "市民", "群众", "居民", "小区", "社区", "街道", "路口", "地方", "位置", "一带", "多次",
    "多人", "长期", "几天", "好几",
])
_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z]")
log = logging.getLogger("gridgov.catalog.suggest")


@dataclass(frozen=True)
class Suggestion:
    item: CatalogItem
    score: float  # 0..1
    reasons: list[str]


# --- segmentation ---

_tokenizer = None
_tokenizer_lock = threading.Lock()
_user_words: set[str] = set()


def _jieba():
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tk = jieba.Tokenizer()  # our own instance: other users of jieba keep its global state
                tk.initialize()
                _tokenizer = tk
    return _tokenizer


def _add_user_words(words: set[str]) -> None:
    tk = _jieba()
    with _tokenizer_lock:
        for w in sorted(words - _user_words):
            tk.add_word(w)
            _user_words.add(w)


def meaningful(word: str) -> bool:
    return len(word) >= 2 and word not in STOPWORDS and bool(_WORD.search(word)) and not word.isdigit()


def tokens(text: str, search: bool = True) -> list[str]:
    """The text's meaningful words, deduplicated in order (search mode: long words also give their parts)."""
    words, parts = segmented(text)
    return parts if search else words


def segmented(text: str) -> tuple[list[str], list[str]]:
    """`tokens(text, search=False)` and `tokens(text)` from one segmentation: jieba's search mode is
    its plain cut with each long word's dictionary 2- and 3-grams put before it, and the cut is
    the dearer half of a suggestion."""
    tk = _jieba()
    freq = tk.FREQ
    words: dict[str, None] = {}
    parts: dict[str, None] = {}

    def keep(into: dict[str, None], w: str) -> None:
        w = w.strip().lower()
        if meaningful(w):
            into.setdefault(w, None)

    for w in tk.cut(text or ""):
        keep(words, w)
        n = len(w)
        for size in (2, 3):
            if n > size:
                for i in range(n - size + 1):
                    if freq.get(w[i:i + size]):
                        keep(parts, w[i:i + size])
        keep(parts, w)
    return list(words), list(parts)


# --- the catalog index ---

@dataclass
class _Entry:
    id: int
    code: str
    name: str
    minor: str
    major: str
    blob: str  # everything an item says about itself, for partial matches


@dataclass
class _CatalogIndex:
    signature: tuple
    built: float
    entries: list[_Entry]
    terms: dict[str, list[tuple[int, str]]]  # term → [(entry index, kind)]
    idf: dict[str, float]
    term_order: dict[str, int] = field(default_factory=dict)  # term → its place in `terms`
    term_lengths: tuple[int, ...] = ()  # the lengths terms come in
    partial: dict[str, tuple[tuple[int, ...], float]] = field(default_factory=dict)  # memo: word → (entries, idf)
    by_id: dict[int, int] = field(default_factory=dict)  # item id → entry index
    items: dict[int, CatalogItem] = field(default_factory=dict)  # detached, loaded with category and department

    def idf_of(self, df: int) -> float:
        n = len(self.entries)
        return math.log(1 + n / max(df, 1)) / math.log(1 + n) if n > 1 else 1.0

    def terms_in(self, text: str) -> list[str]:
        """The terms found in the text, in `terms` order: each of its substrings of a term's length
        looked up, rather than every term searched for in it (the catalog has far more terms than
        a description has such substrings)."""
        order = self.term_order
        found = {piece for size in self.term_lengths for i in range(len(text) - size + 1)
                 if (piece := text[i:i + size]) in order}
        return sorted(found, key=order.__getitem__)

    def partial_hits(self, word: str) -> tuple[tuple[int, ...], float]:
        hit = self.partial.get(word)
        if hit is None:
            found = tuple(i for i, e in enumerate(self.entries) if word in e.blob)
            hit = (found, self.idf_of(len(found)))
            if len(self.partial) < 50000:
                self.partial[word] = hit
        return hit


def _build_catalog(db: Session, signature: tuple) -> _CatalogIndex:
    cats = {c.id: c for c in db.scalars(select(Category))}
    # The items are kept and shared by every request, so they are loaded by a session of their own
    # on this connection (same transaction): the caller's session keeps its own copies untouched.
    with Session(bind=db.connection()) as own:
        items = own.scalars(select(CatalogItem).options(*ITEM_LOAD).where(CatalogItem.active.is_(True))
                            .order_by(CatalogItem.code)).all()
    entries: list[_Entry] = []
    terms: dict[str, list[tuple[int, str]]] = {}
    user_words: set[str] = set()

    def add(term: str, i: int, kind: str) -> None:
        term = term.strip().lower()
        if meaningful(term) and all(j != i for j, _k in terms.get(term, [])):
            terms.setdefault(term, []).append((i, kind))

    for i, item in enumerate(items):
        minor = cats.get(item.category_id)
        major = cats.get(minor.parent_id) if minor and minor.parent_id else minor
        minor_name, major_name = (minor.name if minor else ""), (major.name if major else "")
        keywords = [k for k in item.keywords.split() if k]
        entries.append(_Entry(item.id, item.code, item.name, minor_name, major_name,
                              " ".join([item.name, *keywords, minor_name, major_name]).lower()))
        user_words |= {w for w in [*keywords, item.name] if meaningful(w)}
        add(item.name, i, "name")
        for k in keywords:
            add(k, i, "keyword")
    _add_user_words(user_words)
    for i, e in enumerate(entries):  # parts after the whole terms, so a term keeps its strongest role
        for part in _jieba().cut(e.name):
            add(part, i, "name_part")
        add(e.minor, i, "minor")
        for part in _jieba().cut(e.minor):
            add(part, i, "minor_part")
        add(e.major, i, "major")
    index = _CatalogIndex(signature, time.monotonic(), entries, terms, {})
    index.idf = {t: index.idf_of(len(hits)) for t, hits in terms.items()}
    index.term_order = {t: n for n, t in enumerate(terms)}
    index.term_lengths = tuple(sorted({len(t) for t in terms}))
    index.by_id = {e.id: i for i, e in enumerate(entries)}
    index.items = {item.id: item for item in items}  # detached since `own` closed: read-only from here on
    return index


# --- the past-cases index ---

@dataclass
class _PastIndex:
    """word → Counter(item_id → cases), kept per case so that a case can be taken out again when it
    changes (re-classified, voided). `watermark` is the latest `updated_at` seen."""

    signature: datetime | None
    built: float
    watermark: datetime | None = None
    by_case: dict[int, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    words: dict[str, Counter] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return len(self.by_case)

    def remove(self, case_id: int) -> None:
        old = self.by_case.pop(case_id, None)
        if old is None:
            return
        item_id, words = old
        for w in words:
            counts = self.words[w]
            counts[item_id] -= 1
            if counts[item_id] <= 0:
                del counts[item_id]
            if not counts:
                del self.words[w]

    def add(self, case_id: int, item_id: int, description: str) -> None:
        words = tuple(tokens(description))
        self.by_case[case_id] = (item_id, words)
        for w in words:
            self.words.setdefault(w, Counter())[item_id] += 1

    def see(self, stamp: datetime | None) -> None:
        if stamp is not None and (self.watermark is None or stamp > self.watermark):
            self.watermark = stamp


def _case_model():
    from gridgov.cases.models import Case

    return Case


def _teaches(case) -> tuple:
    return case.item_id.is_not(None), case.state.not_in(EXCLUDED_STATES)


def _build_past(db: Session, signature: datetime | None) -> _PastIndex:
    case = _case_model()
    rows = db.execute(select(case.id, case.description, case.item_id, case.updated_at).where(*_teaches(case))
                      .order_by(case.id.desc()).limit(MAX_PAST_CASES)).all()
    # The watermark is the newest change to any case, not only to the cases that teach: new cases
    # are 'reported' and teach nothing, and a watermark left behind them made every refresh re-read
    # them all (and rebuild past REFRESH_LIMIT) on every suggestion.
    index = _PastIndex(signature, time.monotonic(), watermark=signature)
    for case_id, description, item_id, updated_at in reversed(rows):
        index.add(case_id, item_id, description)
        index.see(updated_at)
    return index


def _refresh_past(db: Session, index: _PastIndex, signature: datetime | None) -> _PastIndex:
    """Brings the index up to date with the cases changed since its watermark (new, registered,
    re-classified or voided), without rescanning the rest. A big backlog rebuilds instead."""
    if index.watermark is None:  # no case at all when it was built
        return _build_past(db, signature)
    rows = db.execute(_statements()["changed"], {"watermark": index.watermark}).all()
    if len(rows) > REFRESH_LIMIT or index.cases + len(rows) > MAX_PAST_CASES * 1.2:
        return _build_past(db, signature)
    for case_id, description, item_id, state, updated_at in rows:
        index.remove(case_id)
        if item_id is not None and state not in EXCLUDED_STATES:
            index.add(case_id, item_id, description)
        index.see(updated_at)
    index.see(signature)
    index.signature = signature
    return index


# --- caches ---

_catalogs: dict[str, _CatalogIndex] = {}
_pasts: dict[str, _PastIndex] = {}
_checked: dict[str, float] = {}  # database → when its indexes were last found current (monotonic)
_build_lock = threading.Lock()


def forget() -> None:
    """Drops the cached indexes of this process (the catalog service calls it after a change)."""
    with _build_lock:
        _catalogs.clear()
        _pasts.clear()
        _checked.clear()


def _key(db: Session) -> str:
    return database_key(db)


@functools.cache
def _statements() -> dict[str, Executable]:
    """The statements every suggestion runs, built once: building one (and its cache key) cost
    about as much as running it."""
    case = _case_model()
    return {
        "signatures": select(
            select(func.count(CatalogItem.id)).where(CatalogItem.active.is_(True)).scalar_subquery(),
            select(func.max(CatalogItem.updated_at)).scalar_subquery(),
            select(func.count(Category.id)).scalar_subquery(),
            # The newest change to any case, read from an index: counting a million cases per call was not.
            select(func.max(case.updated_at)).scalar_subquery()),
        "changed": (select(case.id, case.description, case.item_id, case.state, case.updated_at)
                    .where(case.updated_at >= bindparam("watermark")).order_by(case.id).limit(REFRESH_LIMIT + 1)),
        # Active only: an index up to a second old may still hold an item retired since.
        "items": select(CatalogItem).options(*ITEM_LOAD).where(CatalogItem.id.in_(bindparam("ids", expanding=True)),
                                                               CatalogItem.active.is_(True)),
    }


def _signatures(db: Session) -> tuple[tuple, datetime | None]:
    """What the cached indexes depend on, in one round trip: the active items (count, last change)
    and the categories, and the newest change to any case; and the catalog's version in `meta`
    (read with the process's other versions)."""
    row = db.execute(_statements()["signatures"]).one()
    return (row[0], str(row[1]), row[2], meta_version(db, CATALOG_KEY)), row[3]


def _indexes(db: Session) -> tuple[_CatalogIndex, _PastIndex]:
    key = _key(db)
    now = time.monotonic()
    catalog, past = _catalogs.get(key), _pasts.get(key)
    if (catalog is not None and past is not None and now - _checked.get(key, -math.inf) < CHECK_SECONDS
            and now - catalog.built <= TTL_SECONDS and now - past.built <= TTL_SECONDS):
        return catalog, past
    catalog_sig, past_sig = _signatures(db)
    # With indexes in hand, a request does not wait while another one brings them up to date (a
    # rebuild of the past cases takes seconds): it answers from the ones it has.
    if not _build_lock.acquire(blocking=catalog is None or past is None):
        return catalog, past
    try:
        # Again, under the lock: the requests that found no index at start-up all wait here, and
        # the first one's build must serve the rest (each used to build its own, in turn).
        catalog, past = _catalogs.get(key), _pasts.get(key)
        if catalog is None or catalog.signature != catalog_sig or now - catalog.built > TTL_SECONDS:
            catalog = _catalogs[key] = _build_catalog(db, catalog_sig)
        if past is None or now - past.built > TTL_SECONDS:
            past = _pasts[key] = _build_past(db, past_sig)
        elif past.signature != past_sig:
            past = _pasts[key] = _refresh_past(db, past, past_sig)
        _checked[key] = now
    finally:
        _build_lock.release()
    return catalog, past


# --- scoring ---

@dataclass
class _Ranking:
    catalog: _CatalogIndex
    ranked: list[int]  # entry indexes, best first
    raw: dict[int, float]
    found: dict[int, dict[str, list[str]]]
    past_counts: dict[int, int]

    def score(self, i: int) -> float:
        return round(self.raw[i] / (self.raw[i] + SCALE), 4)


def warm_up(db: Session) -> None:
    """Loads jieba's dictionary and builds this database's indexes now rather than on the first
    description, which otherwise waited 1–2 s for them."""
    _indexes(db)


def suggest_items(db: Session, description: str, limit: int = 3, lang: str = "zh") -> list[Suggestion]:
    """The `limit` best catalog items for a description, best first (ties by item code), each
    with a score in 0..1 and the reasons, in Chinese (or English with lang="en")."""
    ranking = _rank(db, description, limit)
    if ranking is None:
        return []
    entries = ranking.catalog.entries
    rows = {it.id: it for it in db.scalars(_statements()["items"], {"ids": [entries[i].id for i in ranking.ranked]})}
    out = []
    for i in ranking.ranked:
        item = rows.get(entries[i].id)
        if item is None:
            continue
        out.append(Suggestion(item, ranking.score(i), _reasons(ranking.found[i], ranking.past_counts.get(i, 0), lang)))
    return out


def best_item(db: Session, description: str) -> tuple[CatalogItem, float] | None:
    """The best item for a description and its score, as `suggest_items(…, limit=1)` ranks it, for
    intake to pick one by itself. The item is the index's own copy (detached, with its category
    and department, read-only), not read again: that read was a fifth of an intake. It is as
    current as the index, so an item retired in the last second may still come back."""
    ranking = _rank(db, description, 1)
    if ranking is None:
        return None
    i = ranking.ranked[0]
    return ranking.catalog.items[ranking.catalog.entries[i].id], ranking.score(i)


def _rank(db: Session, description: str, limit: int) -> _Ranking | None:
    text = (description or "").strip().lower()
    if not text or limit <= 0:
        return None
    catalog, past = _indexes(db)
    raw: dict[int, float] = {}
    found: dict[int, dict[str, list[str]]] = {}

    def credit(i: int, amount: float, kind: str, what: str) -> None:
        raw[i] = raw.get(i, 0.0) + amount
        bucket = found.setdefault(i, {}).setdefault(kind, [])
        if what not in bucket:
            bucket.append(what)

    matched: dict[int, list[str]] = {}  # entry → the whole terms it matched
    for term in catalog.terms_in(text):
        for i, kind in catalog.terms[term]:
            credit(i, WEIGHTS[kind] * catalog.idf[term], kind, term)
            matched.setdefault(i, []).append(term)
    words, parts = segmented(text)
    for w in words:
        hits, idf = catalog.partial_hits(w)
        for i in hits:
            if not any(w in m for m in matched.get(i, ())):  # no double credit for one word
                credit(i, WEIGHTS["partial"] * idf, "partial", w)
    by_id = catalog.by_id
    past_counts: dict[int, int] = {}
    cases = past.cases
    for w in parts:
        # A copy (atomic for a plain dict): a refresh in another thread may change the index.
        counts = dict(past.words.get(w) or {})
        if not counts:
            continue
        total = sum(counts.values())
        confidence = min(1.0, total / 3)
        distinct = math.log(1 + cases / total) / math.log(1 + cases) if cases > 1 else 1.0
        for item_id, n in counts.items():
            i = by_id.get(item_id)
            if i is None:  # an item since retired
                continue
            credit(i, WEIGHTS["past"] * confidence * distinct * n / total, "past", w)
            past_counts[i] = max(past_counts.get(i, 0), n)

    ranked = sorted((i for i, r in raw.items() if r >= MIN_RAW), key=lambda i: (-raw[i], catalog.entries[i].code))
    ranked = ranked[:limit]
    return _Ranking(catalog, ranked, raw, found, past_counts) if ranked else None


def categories_of(db: Session, items: list[CatalogItem]) -> dict[int, Category]:
    """The categories a few items' answers show: each item's 小类 (loaded with the item) and its
    大类, by id. For suggestions, instead of reading the whole category table per call."""
    cats = {i.category.id: i.category for i in items}
    parents = {c.parent_id for c in cats.values() if c.parent_id and c.parent_id not in cats}
    if parents:
        cats.update((c.id, c) for c in db.scalars(select(Category).where(Category.id.in_(parents))))
    return cats


def _quote(words: list[str], lang: str) -> str:
    return ("、" if lang != "en" else ", ").join(f"“{w}”" for w in words)


def _reasons(found: dict[str, list[str]], past_cases: int, lang: str) -> list[str]:
    out = []
    if "name" in found:
        out.append(translate("描述提到事项名称 {words}", lang, words=_quote(found["name"], lang)))
    if "keyword" in found:
        out.append(translate("匹配关键词 {words}", lang, words=_quote(found["keyword"], lang)))
    parts = found.get("name_part", []) + found.get("partial", [])
    if parts:
        out.append(translate("相关词语 {words}", lang, words=_quote(parts, lang)))
    cats = found.get("minor", []) + found.get("minor_part", []) + found.get("major", [])
    if cats:
        out.append(translate("匹配类别 {words}", lang, words=_quote(cats, lang)))
    if past_cases:
        out.append(translate("相似的历史案件中有 {n} 件归为此事项", lang, n=past_cases))
    return out
