"""The case lifecycle in one table: every state, every action, who may take it.

The API (`GET /cases/{id}/actions`, `POST /cases/{id}/actions/{name}`) and the case page
both read this table, so what a button offers and what the server accepts never differ.
`refusal()` says why an action is not allowed: wrong state, wrong role, or not this
person's case.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridgov.accounts.access import Principal

# state → (Chinese label, the timed step that runs while a case is in it)
STATES: dict[str, tuple[str, str | None]] = {
    "reported": ("待受理", "register"),
    "registered": ("待派遣", "dispatch"),
    "dispatched": ("待签收", "sign"),
    "handling": ("处置中", "handle"),
    "handled": ("待核查", "verify"),
    "verified": ("待结案", "close"),
    "deferred": ("挂账", None),
    "closed": ("已结案", None),
    "evaluated": ("已回访", None),
    "voided": ("已作废", None),
    "merged": ("已合并", None),
}
OPEN_STATES = frozenset(s for s in STATES if s not in ("closed", "evaluated", "voided", "merged"))
LEVEL_ROLE = {"community": "community_admin", "street": "street_dispatcher", "district": "district_dispatcher"}
LEVELS = ("community", "street", "district")

# Who may act: each party is a test of the person against the case (see `is_party`).
PARTY_LABELS = {
    "level_dispatcher": "该事件所在层级的调度员",
    "district_dispatcher": "区指挥中心",
    "handler": "承办人或其部门管理员",
    "grid_worker": "事发网格的网格员",
    "reporter": "上报人",
    "reporting_grid_worker": "上报该事件的网格员",
    "supervisor": "领导或区指挥中心",
}


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: frozenset[str]
    target: str | None  # None: the state stays (escalate, supervise, extension …)
    parties: tuple[str, ...]
    needs_comment: bool = False


def _a(name, label, sources, target, parties, needs_comment=False) -> Action:
    return Action(name, label, frozenset(sources), target, tuple(parties), needs_comment)


_OPEN_WORK = ("registered", "dispatched", "handling", "handled", "verified", "reported")
ACTIONS: dict[str, Action] = {a.name: a for a in [
    _a("register", "立案", ["reported"], "registered", ["level_dispatcher"]),
    _a("void", "作废", ["reported"], "voided", ["level_dispatcher"], needs_comment=True),
    _a("merge", "合并重复", ["reported", "registered"], "merged", ["level_dispatcher"]),
    _a("escalate", "上报上级", ["reported", "registered"], None, ["level_dispatcher"], needs_comment=True),
    _a("hand_down", "下派下级", ["reported", "registered"], None, ["level_dispatcher"]),
    # The grid worker fixing it on the spot; not a desk that logged a call (it is that case's reporter too).
    _a("self_handle", "自行处置", ["reported"], "closed", ["reporting_grid_worker"], needs_comment=True),
    _a("dispatch", "派遣", ["registered"], "dispatched", ["level_dispatcher"]),
    _a("sign", "签收", ["dispatched"], "handling", ["handler"]),
    _a("return", "退单", ["dispatched"], "registered", ["handler"], needs_comment=True),
    _a("report_back", "处置反馈", ["handling"], "handled", ["handler"], needs_comment=True),
    _a("request_extension", "申请延期", ["handling"], None, ["handler"], needs_comment=True),
    _a("approve_extension", "批准延期", ["handling"], None, ["level_dispatcher", "district_dispatcher"]),
    _a("reject_extension", "驳回延期", ["handling"], None, ["level_dispatcher", "district_dispatcher"],
       needs_comment=True),
    _a("verify", "核查通过", ["handled"], "verified", ["grid_worker"]),
    _a("rework", "返工", ["handled", "verified"], "handling", ["grid_worker", "level_dispatcher"],
       needs_comment=True),
    _a("close", "结案", ["verified"], "closed", ["level_dispatcher"]),
    _a("evaluate", "回访评价", ["closed"], "evaluated", ["level_dispatcher", "reporter"]),
    _a("defer", "挂账", ["registered", "handling"], "deferred", ["level_dispatcher"], needs_comment=True),
    _a("resume", "恢复办理", ["deferred"], None, ["level_dispatcher"]),
    _a("supervise", "督办", _OPEN_WORK, None, ["supervisor"], needs_comment=True),
]}


@dataclass(frozen=True)
class CaseView:
    """What the rules need to know about a case (kept apart from the ORM for clarity)."""

    state: str
    level: str
    region_path: str
    department_id: int | None
    handler_id: int | None
    reporter_user_id: int | None
    extension_requested: bool = False
    self_handle_allowed: bool = False


def level_code_depth(level: str) -> int:
    # path: /city/district/street/community/grid/ → the district is the 2nd code, and so on.
    return {"district": 2, "street": 3, "community": 4}[level]


def region_at_level(region_path: str, level: str) -> str:
    codes = [c for c in region_path.split("/") if c]
    return "/" + "/".join(codes[: level_code_depth(level)]) + "/"


def is_party(party: str, who: Principal, case: CaseView) -> bool:
    if party == "level_dispatcher":
        return who.role == LEVEL_ROLE[case.level] and region_at_level(case.region_path, case.level).startswith(
            who.region_path)
    if party == "district_dispatcher":
        return who.role == "district_dispatcher" and case.region_path.startswith(who.region_path)
    if party == "handler":
        if who.user_id == case.handler_id:
            return True
        return who.role == "dept_admin" and who.department_id is not None and who.department_id == case.department_id
    if party == "grid_worker":
        return who.role == "grid_worker" and case.region_path.startswith(who.region_path)
    if party == "reporter":
        return case.reporter_user_id is not None and who.user_id == case.reporter_user_id
    if party == "reporting_grid_worker":
        return who.role == "grid_worker" and is_party("reporter", who, case)
    if party == "supervisor":
        return who.role in ("leader", "district_dispatcher") and case.region_path.startswith(who.region_path)
    raise ValueError(party)


def refusal(action_name: str, who: Principal, case: CaseView) -> tuple[str, dict] | None:
    """None when the action is allowed; otherwise why, as a Chinese message and its parameters."""
    action = ACTIONS.get(action_name)
    if action is None:
        return "没有名为 {action} 的操作", {"action": action_name}
    if case.state not in action.sources:
        return "事件当前状态为“{state}”，不能{action}", {"state": STATES[case.state][0], "action": action.label}
    if not any(is_party(p, who, case) for p in action.parties):
        return "只有{parties}可以{action}", {"parties": "、".join(PARTY_LABELS[p] for p in action.parties),
                                         "action": action.label}
    checks = [
        (action_name == "escalate" and case.level == "district", "事件已在区级，不能再上报"),
        (action_name == "hand_down" and case.level == "community", "事件已在社区级，不能再下派"),
        (action_name == "self_handle" and not case.self_handle_allowed, "该事项不允许网格员自行处置"),
        (action_name == "request_extension" and case.extension_requested, "已有待审批的延期申请"),
        (action_name in ("approve_extension", "reject_extension") and not case.extension_requested,
         "没有待审批的延期申请"),
    ]
    return next(((message, {}) for failed, message in checks if failed), None)


def allowed_actions(who: Principal, case: CaseView) -> list[Action]:
    return [a for name, a in ACTIONS.items() if refusal(name, who, case) is None]
