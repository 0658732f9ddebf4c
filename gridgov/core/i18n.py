"""Chinese first, English second.

Text is written in Chinese where it is used (templates, errors) and looked up in `EN`
for English, so a page reads naturally in its source and a missing translation shows
the Chinese rather than a key. Language comes from `?lang=`, the `lang` cookie,
then `Accept-Language`, then the setting.
"""

from __future__ import annotations

from starlette.requests import Request

LANGS = ("zh", "en")

EN: dict[str, str] = {
    # errors
    "请求参数有误": "Invalid request",
    "必填": "is required",
    "必须是数字": "must be a number",
    "必须是整数": "must be an integer",
    "必须是文本": "must be text",
    "不能小于 {limit}": "must be at least {limit}",
    "不能大于 {limit}": "must be at most {limit}",
    "必须大于 {limit}": "must be greater than {limit}",
    "必须小于 {limit}": "must be less than {limit}",
    "长度不能少于 {limit}": "must have at least {limit} characters",
    "长度不能超过 {limit}": "must have at most {limit} characters",
    "必须是以下之一：{expected}": "must be one of: {expected}",
    "格式不正确": "has an invalid format",
    "格式不正确：{detail}": "is invalid: {detail}",
    "请求体不是合法的 JSON": "the request body is not valid JSON",
    "未登录或登录已过期": "Not logged in, or the session has expired",
    "没有权限执行此操作": "You do not have permission to do this",
    "超出您的管辖范围": "This is outside your jurisdiction",
    "找不到该资源": "Not found",
    "找不到区划 {code}": "Region {code} not found",
    "找不到用户 {id}": "User {id} not found",
    "找不到部门 {id}": "Department {id} not found",
    "找不到分派规则 {id}": "Area assignment {id} not found",
    "该点 ({lon}, {lat}) 不在任何网格内": "The point ({lon}, {lat}) is not inside any grid",
    "请求方法不允许": "Method not allowed",
    "服务器内部错误，已记录，请稍后重试": "Internal error; it has been logged, please try again later",
    "用户名或密码错误": "Wrong username or password",
    "账户已停用": "This account is disabled",
    "密码连续错误 {failures} 次，账户已锁定，请 {minutes} 分钟后再试":
        "Too many failed log-ins ({failures}); the account is locked, try again in {minutes} minutes",
    "账户已锁定，请 {minutes} 分钟后再试": "The account is locked; try again in {minutes} minutes",
    "表单已过期，请刷新页面后重试": "The form has expired; reload the page and try again",
    "用户名已存在": "this username is taken",
    "只能包含字母、数字、下划线和点，3–40 位": "letters, digits, _ and . only, 3–40 characters",
    "密码至少 8 位": "must have at least 8 characters",
    "未知角色 {role}": "unknown role {role}",
    "区划不存在": "no such region",
    "部门不存在": "no such department",
    "该角色必须属于一个部门": "this role must belong to a department",
    "{role} 的管辖区划必须是{level}": "the jurisdiction of a {role} must be a {level}",
    "不能把账户授权到您管辖范围之外": "cannot grant a jurisdiction outside your own",
    "部门代码已存在": "this department code is taken",
    "部门代码只能是 2–10 位大写字母或数字": "2–10 upper-case letters or digits",
    "未知部门级别 {level}": "unknown department level {level}",
    "处理人必须是本部门成员": "the handler must be a member of this department",
    "该分派规则已存在": "this area assignment already exists",
    "只有部门负责人或部门管理员可以加入部门": "only department handlers and admins can join a department",
    "添加成员": "Add member", "移出": "Remove",
    "数据库尚未迁移": "The database has not been migrated",
    # levels and roles
    "市": "City", "区县": "District", "街道乡镇": "Street/town", "社区村": "Community/village", "网格": "Grid",
    "网格员": "Grid worker", "社区管理员": "Community admin", "街道调度员": "Street dispatcher",
    "区指挥中心调度员": "District dispatcher", "部门负责人": "Department handler",
    "部门管理员": "Department admin", "调解员": "Mediator", "领导": "Leader",
    "系统管理员": "Administrator", "群众": "Citizen",
    "区直部门": "District bureau", "街道办事处": "Street office", "公共事业单位": "Utility company",
    # pages
    "网格化社会治理平台": "Grid-based Community Governance",
    "演示数据": "Demo data",
    "这是演示数据库，所有人员和数据均为虚构。": "This is a demo database; all people and data are fictitious.",
    "登录": "Log in", "退出": "Log out", "用户名": "Username", "密码": "Password",
    "演示账户": "Demo accounts", "演示账户密码均为": "All demo accounts use the password",
    "首页": "Home", "区划与网格": "Regions & grids", "用户管理": "Users", "部门": "Departments",
    "欢迎": "Welcome", "角色": "Role", "管辖范围": "Jurisdiction", "所属部门": "Department",
    "我的网格": "My grid", "下级区划": "Subdivisions", "网格数": "Grids", "社区村数": "Communities",
    "街道乡镇数": "Streets/towns", "用户数": "Users", "部门数": "Departments",
    "编码": "Code", "名称": "Name", "级别": "Level", "所属社区": "Community", "所属街道": "Street",
    "网格员未配备": "No grid worker assigned", "面积": "Area", "平方米": "m²",
    "新建用户": "New user", "保存": "Save", "创建": "Create", "编辑": "Edit", "删除": "Delete",
    "姓名": "Name", "状态": "Status", "启用": "Active", "停用": "Disabled", "无": "None",
    "操作": "Actions", "筛选": "Filter", "全部": "All", "搜索": "Search",
    "共 {n} 条": "{n} in all", "暂无数据": "Nothing here yet",
    "新建部门": "New department", "部门代码": "Department code", "部门级别": "Level",
    "成员": "Members", "分派规则": "Area assignments", "处理人": "Handler", "负责区划": "Region",
    "添加分派规则": "Add assignment", "上级区划": "Parent", "地图": "Map",
    "点击地图上的网格查看详情": "Click a grid on the map to see its details",
    "底图未配置，显示空白底图": "No tile server configured: blank base layer",
    "已保存": "Saved", "已创建": "Created", "已删除": "Deleted",
    "锁定至": "Locked until", "最近登录": "Last login", "返回": "Back",
    "页面不存在": "Page not found", "出错了": "Something went wrong",
    "账户": "Account", "语言": "Language",
    "新密码（留空则不修改）": "New password (leave blank to keep)",
    "所属区划": "Region",
}


def pick_language(request: Request, default: str) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get("lang")
    if c in LANGS:
        return c
    accept = request.headers.get("accept-language", "")
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return default


def translate(text: str, lang: str, **params: object) -> str:
    template = EN.get(text, text) if lang == "en" else text
    return template.format(**params) if params else template
