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
    # --- notify (inbox, badge) ---
    "通知": "Notifications", "未读": "Unread", "已读": "Read",
    "标为已读": "Mark as read", "全部标为已读": "Mark all as read",
    "暂无通知。": "No notifications yet.", "没有未读通知。": "No unread notifications.",
    "查看全部通知": "See all notifications",
    "有事件派给您、被退回或被督办时，会在这里通知您。":
        "You are told here when a case is assigned to you, returned or put under supervision.",
    "找不到通知 {id}": "Notification {id} not found",
    # --- end notify ---
    # --- working calendar (gridgov/workcal) ---
    "工作日历": "Working calendar",
    "今年": "This year",
    "{year} 年没有节假日安排数据": "No holiday schedule for {year}",
    "该年按周一至周五计算工作日，法定节假日和调休不会计入，工作日期限可能不准。":
        "Working days of this year are counted as Monday to Friday: public holidays and make-up workdays are "
        "not known, so working-day deadlines may be off. ",
    "国务院通常在前一年 11 月公布次年安排，请管理员及时录入。":
        "The State Council usually publishes next year's schedule in November; an administrator should enter "
        "it.",
    "数据来源": "Source",
    "备注": "Note",
    "放假": "Day off",
    "{n} 天（周一至周五）": "{n} days (Monday–Friday)",
    "调休上班": "Make-up workday",
    "{n} 天（周六、周日）": "{n} days (Saturday, Sunday)",
    "办公时间": "Office hours",
    "每个工作日 {hours} 小时": "{hours} hours per working day",
    "chinesecalendar 数据包也有该年数据；管理员录入优先，导入时不会覆盖。":
        "The chinesecalendar package also has this year; the administrator's entry wins and seeding leaves "
        "it alone.",
    "有数据的年份": "Years with data",
    "节假日与调休": "Holidays and make-up workdays",
    "日期": "Date",
    "星期": "Weekday",
    "类型": "Type",
    "来源": "Source",
    "该年没有登记节假日或调休上班日": "No holidays or make-up workdays are recorded for this year",
    "添加日期": "Add a day",
    "至（可选，放假可填范围）": "Until (optional: a range of days off)",
    "如：春节": "e.g. Spring Festival",
    "放假范围内的周六、周日本来就休息，会自动略过；调休上班日必须是周六或周日。":
        "Saturdays and Sundays inside a range of days off are skipped (they are off anyway); a make-up "
        "workday must be a Saturday or Sunday. ",
    "保存后该年来源变为“管理员录入”，导入数据包时不会被覆盖。":
        "Once saved, the year's source is 'entered by an administrator' and seeding from the package will "
        "not overwrite it.",
    "添加": "Add",
    "登记为无调整（按周一至周五）": "Record as no changes (Monday–Friday)",
    "清除本年数据（改为按周一至周五）": "Clear this year (back to Monday–Friday)",
    "期限计算": "Deadline calculator",
    "开始时间": "Start",
    "计算": "Compute",
    "截止时间": "Deadline",
    "{years} 年没有节假日安排数据，按周一至周五计算": "No holiday schedule for {years}: counted as Monday–Friday",
    "请填写开始时间、不小于 0 的时限和单位": "Enter a start time, a limit of at least 0 and a unit",
    "国务院安排（chinesecalendar 数据包）": "State Council schedule (chinesecalendar package)",
    "管理员录入": "Entered by an administrator",
    "无数据，按周一至周五": "No data: Monday–Friday",
    "周一": "Mon",
    "周二": "Tue",
    "周三": "Wed",
    "周四": "Thu",
    "周五": "Fri",
    "周六": "Sat",
    "周日": "Sun",
    "年份必须在 {lo}–{hi} 之间": "the year must be between {lo} and {hi}",
    "日期格式不正确：{value}（应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD，可加 :名称）":
        "invalid date: {value} (expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, optionally followed by :name)",
    "日期格式不正确：{value}": "invalid date: {value}",
    "{day} 不在 {year} 年内": "{day} is not in {year}",
    "{day} 是周末，本来就休息，不能设为放假日（只需登记周一至周五放假的日子）":
        "{day} is a weekend day, already a day off: only weekdays off are entered as holidays",
    "{day} 是周一至周五，本来就上班，调休上班日必须是周六或周日":
        "{day} is a weekday, already a working day: a make-up workday must be a Saturday or Sunday",
    "名称不能超过 {limit} 个字": "the name must have at most {limit} characters",
    "{day} 不能既放假又调休上班": "{day} cannot be both a day off and a make-up workday",
    "日期范围不正确：{first}..{last}": "invalid date range: {first}..{last}",
    "超出工作日历支持的范围（{lo}–{hi} 年）": "outside the range the working calendar supports ({lo}–{hi})",
    # --- end of working calendar ---
    # --- open311 (GeoReport v2 errors and notices) ---
    "找不到服务 {code}": "Service {code} not found",
    "找不到服务请求 {id}": "Service request {id} not found",
    "找不到令牌 {token}": "Token {token} not found",
    "不支持的格式 {format}，请使用 json 或 xml": "Unsupported format {format}: use json or xml",
    "缺少 api_key": "api_key is missing",
    "api_key 无效或已停用": "Invalid or disabled api_key",
    "缺少 service_code": "service_code was not provided",
    "缺少位置：请提供 lat 和 long（WGS-84 坐标）": "No location: send lat and long (WGS-84)",
    "无法定位：本系统按网格派单，需要 lat 和 long（WGS-84 坐标），仅有 address_string 或 address_id 无法确定所在网格":
        "Cannot locate the request: cases are routed by grid, which needs lat and long (WGS-84); "
        "an address_string or address_id alone cannot be placed in a grid",
    "lat 和 long 必须同时提供": "lat and long must be sent together",
    "{field} 必须是数字": "{field} must be a number",
    "{field} 必须在 -{bound} 到 {bound} 之间": "{field} must be between -{bound} and {bound}",
    "{field} 不能超过 {limit} 个字符": "{field} must have at most {limit} characters",
    "attribute 不能超过 {limit} 项": "at most {limit} attributes may be sent",
    "email 格式不正确": "email is not a valid e-mail address",
    "media_url 必须是 http:// 或 https:// 开头的网址": "media_url must be an http:// or https:// URL",
    "Idempotency-Key 长度必须在 1 到 200 个字符之间": "Idempotency-Key must have 1 to 200 characters",
    "请求体不是合法的表单": "The request body is not a valid form",
    "{field} 不是合法的 W3C 日期时间（如 2010-01-01T00:00:00Z）":
        "{field} is not a valid W3C datetime (e.g. 2010-01-01T00:00:00Z)",
    "service_request_id 最多 {limit} 个": "at most {limit} service_request_id values may be sent",
    "start_date 不能晚于 end_date": "start_date must not be after end_date",
    "start_date 与 end_date 相隔不能超过 90 天": "start_date and end_date may not span more than 90 days",
    "status 只能是 open 或 closed（可用逗号分隔）": "status must be open or closed (comma separated)",
    "已受理，事件编号 {number}。": "Received as case {number}. ",
    "承办部门：{department}": "Handled by {department}",
    "承办部门：{department}；处置时限：{amount} {unit}": "Handled by {department} within {amount} {unit}",
    "结案标准：{standard}": "Closed when: {standard}",
    "已合并：与事件 {number} 重复": "Duplicate of request {number}",
    "请联系区网格化服务管理指挥中心": "Contact the district grid management command centre",
    "API 密钥由平台管理员用 `gridgov open311 add-client 名称` 发放":
        "API keys are issued by the platform administrator with `gridgov open311 add-client NAME`",
    # --- end open311 ---
    # --- catalog ---
    "找不到类别 {category}": "Category {category} not found",
    "找不到事项 {item}": "Catalog item {item} not found",
    "时限必须是按环节给出数量和单位的对象": "must map each step to an amount and a unit",
    "未知环节，应为以下之一：{expected}": "unknown step; must be one of: {expected}",
    "时限必须包含数量（amount）和单位（unit）": "a limit needs an amount and a unit",
    "时限单位必须是以下之一：{expected}": "the time unit must be one of: {expected}",
    "事项编码必须是 6 位数字": "the item code must be 6 digits",
    "事项编码 {code} 已存在": "item code {code} is taken",
    "小类编码必须是 4 位数字": "the subcategory code must be 4 digits",
    "小类 {code} 不存在": "subcategory {code} does not exist",
    "事项编码 {code} 只能归入小类 {minor}": "item {code} can only belong to subcategory {minor}",
    "事项编码必须以小类编码 {minor} 开头": "the item code must start with its subcategory code {minor}",
    "部门代码 {code} 不存在": "department code {code} does not exist",
    "处置层级必须是以下之一：{expected}": "the handling level must be one of: {expected}",
    "必须是“是”或“否”": "must be 是 (yes) or 否 (no)",
    "大类 {code} 不存在，请先建立大类": "category {code} does not exist; create it first",
    "类别编码必须是 2 位数字（大类）或 4 位数字（小类）":
        "a category code is 2 digits (category) or 4 digits (subcategory)",
    "类别编码 {code} 已存在": "category code {code} is taken",
    "小类的类型随其大类，请修改大类": "a subcategory takes its category's kind; change the category",
    "文件不能超过 {limit} MB": "the file must be at most {limit} MB",
    "不是有效的 Excel（.xlsx）文件": "not a valid Excel (.xlsx) file",
    "第 1 行必须是列名": "row 1 must hold the column headers",
    "列名重复": "duplicate column header",
    "缺少此列": "this column is missing",
    "时限和时限单位两列必须同时出现": "a limit column and its unit column must come together",
    "一次最多导入 {limit} 行": "at most {limit} rows per import",
    "大类编码必须是 2 位数字": "the category code must be 2 digits",
    "小类编码必须以大类编码 {major} 开头": "the subcategory code must start with its category code {major}",
    "与第 {row} 行的名称“{name}”不一致": "differs from the name “{name}” in row {row}",
    "与第 {row} 行的大类类型不一致": "differs from the category kind in row {row}",
    "新类别 {code} 必须填写名称": "new category {code} needs a name",
    "事项编码与第 {row} 行重复": "same item code as row {row}",
    "描述提到事项名称 {words}": "the description names the item: {words}",
    "匹配关键词 {words}": "matching keywords: {words}",
    "相关词语 {words}": "related words: {words}",
    "匹配类别 {words}": "matching category: {words}",
    "相似的历史案件中有 {n} 件归为此事项": "{n} similar past cases were filed under this item",
    "请选择要导入的 Excel 文件": "choose an Excel file to import",
    "事项清单": "Catalog",
    "导出 Excel": "Export to Excel",
    "新建事项": "New item",
    "大类": "Category",
    "小类": "Subcategory",
    "责任部门": "Responsible department",
    "事项编码": "Item code",
    "事项名称": "Item name",
    "处置层级": "Handling level",
    "处置时限": "Handling limit",
    "网格员可自处理": "Grid worker may self-handle",
    "是": "Yes",
    "否": "No",
    "没有符合条件的事项": "No item matches",
    "清除筛选": "Clear filters",
    "事项清单还是空的": "The catalog is empty",
    "新建事项，或从 Excel 导入": "add an item or import from Excel",
    "从 Excel 导入": "Import from Excel",
    "格式与导出的文件相同：按事项编码更新或新建，缺少的大类、小类按所填名称新建。":
        "Same layout as the export: items are updated or created by item code; missing categories are created with "
        "the names given.",
    "导入": "Import",
    "导入完成：新建 {created} 条，更新 {updated} 条，未变 {unchanged} 条":
        "Imported: {created} created, {updated} updated, {unchanged} unchanged",
    "新建类别 {n} 个": "{n} categories created",
    "已导入正确的 {good} 行（新建 {created} 条，更新 {updated} 条），{bad} 行有错误未导入":
        "Imported the {good} good rows ({created} created, {updated} updated); {bad} rows with errors were skipped",
    "{bad} 行有错误，未导入任何数据": "{bad} rows have errors; nothing was imported",
    "下载错误行（含错误原因）": "Download the bad rows (with reasons)",
    "行号": "Row",
    "列": "Column",
    "错误原因": "Reason",
    "编码、名称或关键词": "Code, name or keyword",
    "Excel 文件": "Excel file",
    "请修改标出的字段": "Please correct the marked fields",
    "立案标准": "Registration standard",
    "结案标准": "Closure standard",
    "各环节时限": "Time limits per step",
    "留空表示该环节不计时": "Leave blank for an untimed step",
    "环节": "Step",
    "时限": "Limit",
    "单位": "Unit",
    "关键词": "Keywords",
    "6 位数字，以小类编码开头": "6 digits starting with the subcategory code",
    "空格分隔": "space separated",
    "社区": "Community",
    "街道": "Street",
    "区": "District",
    "紧急工作时": "urgent hours",
    "工作时": "working hours",
    "工作日": "working days",
    "自然日": "calendar days",
    "立案": "Register",
    "派遣": "Dispatch",
    "签收": "Sign for",
    "处置": "Handle",
    "核查": "Verify",
    "结案": "Close",
    "大类编码": "Category code",
    "大类名称": "Category name",
    "大类类型": "Category kind",
    "小类编码": "Subcategory code",
    "小类名称": "Subcategory name",
    "责任部门代码": "Department code",
    "责任部门名称": "Department name",
    "立案时限": "Register limit",
    "立案时限单位": "Register limit unit",
    "派遣时限": "Dispatch limit",
    "派遣时限单位": "Dispatch limit unit",
    "签收时限": "Sign-for limit",
    "签收时限单位": "Sign-for limit unit",
    "处置时限单位": "Handling limit unit",
    "核查时限": "Verify limit",
    "核查时限单位": "Verify limit unit",
    "结案时限": "Close limit",
    "结案时限单位": "Close limit unit",
    "全部正确才导入": "All or nothing",
    "只导入正确的行": "Import the good rows only",
    "城市管理": "Urban management",
    "社会治理": "Social governance",
    # --- end catalog ---
}


# --- cases ---
EN.update({
    "上报上级": "Escalate", "上报事件": "Report an event", "上报时间": "Reported", "下派下级": "Hand down",
    "下派到": "Hand down to", "事件": "Cases", "事件编号": "Case no.", "事项": "Matter",
    "事项编码（可修改）": "Matter code (may be changed)", "位置": "Location", "作废": "Void", "使用定位": "Use GPS",
    "分拣": "Triage", "分拣原因": "Triage reason", "分拣队列": "Triage queue", "办理期限": "Deadline",
    "办理过程": "Timeline", "可执行的操作": "Actions you can take", "合并到事件": "Merge into case",
    "合并重复": "Merge duplicate", "回访评价": "Satisfaction visit", "地址": "Address", "处置中": "Handling",
    "处置反馈": "Report back", "实时": "live", "层级": "Level", "已作废": "Voided", "已合并": "Merged",
    "已回访": "Evaluated", "已结案": "Closed", "延期待审批": "extension awaiting approval",
    "延长时限": "Extend by", "建议事项": "Suggested matters", "待受理": "Reported", "待核查": "To verify",
    "待派遣": "To dispatch", "待签收": "To sign", "待结案": "To close", "恢复办理": "Resume",
    "批准延期": "Approve extension", "承办部门": "Department",
    "承办部门（留空按派单建议）": "Department (blank: the routing suggestion)", "挂账": "Deferred",
    "按描述自动判断": "Decide from the description", "描述": "Description", "提交": "Submit",
    "来电人": "Caller", "来电号码": "Caller's number", "核查通过": "Verify", "派单依据": "Routing reason",
    "满意度": "Satisfaction", "照片": "Photos", "申请延期": "Request extension", "登记事件": "Register a case",
    "登记事件（12345 热线）": "Register a case (12345 hotline)", "督办": "Supervise",
    "督办级别": "Supervision level", "类别": "Category", "紧急": "Urgent", "自行处置": "Self-handle",
    "说明": "Comment", "请在地图上点选，或使用定位": "Click the map, or use GPS", "调度台": "Console",
    "返工": "Rework", "退单": "Return", "立案": "Register", "派遣": "Dispatch", "签收": "Sign", "核查": "Verify",
    "结案": "Close",
    "附近 100 米内 7 天内已有同类事件，请确认是否重复":
        "Cases of the same kind within 100 m and 7 days: check this is not a duplicate",
    "附近的同类事件": "Nearby cases of the same kind", "驳回延期": "Reject extension",
    "导出 Excel": "Export to Excel", "时限": "Clock", "处理人": "Handler", "正常": "On time",
    "黄灯预警": "Yellow: 80% used", "红灯超时": "Red: overdue", "我上报的": "My reports", "待我核查": "To verify",
    "办理中": "In hand", "已超时": "Overdue", "普通督办": "Supervision", "黄牌督办": "Yellow card",
    "红牌督办": "Red card", "满意": "Satisfied", "基本满意": "Basically satisfied", "不满意": "Unsatisfied",
    "黄牌": "Yellow card", "红牌": "Red card", "处置前": "Before", "处置后": "After", "附件": "Attachment",
    "上报": "Report", "合并": "Merged", "超时": "Overdue", "编号、描述、地址": "Number, description, address",
    "街道": "Street", "社区": "Community", "区": "District", "找不到事件 {id}": "Case {id} not found",
    "没有编码为 {code} 的事项": "no matter with code {code}", "立案需要确定事项": "registering needs a matter",
    "{action}需要填写说明": "{action} needs a comment",
    "事件已被他人更新（当前版本 {current}，您提交的是 {given}），请刷新后重试":
        "The case was changed by someone else (now version {current}, you sent {given}); reload and try again",
    "事件已被他人同时更新，请刷新后重试": "Someone changed the case at the same moment; reload and try again",
    "请先确定承办部门和处理人": "choose the department and handler first",
    "处理人必须是承办部门的在岗成员": "the handler must be an active member of the department",
    "请选择要合并到的另一个事件": "choose another case to merge into",
    "只能合并到未办结的事件": "only an open case can take a merge",
    "照片不能超过 10 MB": "photos must be at most 10 MB", "只接受 JPEG、PNG、WebP 或 HEIC 照片":
        "only JPEG, PNG, WebP or HEIC photos", "文件为空": "the file is empty",
    "请在地图上点选位置或使用定位": "click the map or use GPS to give the location",
    "没有名为 {action} 的操作": "There is no action called {action}",
    "记录已被他人同时更新，请刷新后重试": "Someone changed this record at the same moment; reload and try again",
    "已超过办理期限，延期须在期限前申请": "The deadline has passed: an extension must be asked for before it",
    "事件当前状态为“{state}”，不能{action}": "The case is “{state}”: it cannot take “{action}”",
    "只有{parties}可以{action}": "Only {parties} may take “{action}”",
    "事件已在区级，不能再上报": "The case is already at district level", "事件已在社区级，不能再下派":
        "The case is already at community level", "该事项不允许网格员自行处置": "This matter may not be self-handled",
    "已有待审批的延期申请": "An extension request is already waiting", "没有待审批的延期申请":
        "No extension request is waiting",
    "该事件所在层级的调度员": "the dispatcher of the case's level", "区指挥中心": "the district command centre",
    "承办人或其部门管理员": "the handler or their department admin", "事发网格的网格员": "the grid's worker",
    "上报人": "the reporter", "领导或区指挥中心": "leaders or the district command centre",
})
# --- end cases ---


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
