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
    # people and houses (gridgov/people), audit
    "实有人口": "Residents",
    "实有房屋": "Houses", "共 {n} 栋": "{n} buildings", "楼栋名称包含": "Building name contains",
    "这栋楼还没有登记房屋。": "No rooms registered in this building.", "在住人数": "Living there", "层数": "Floors",
    "房号": "Room",
    "导入 Excel": "Import Excel",
    "登记居民": "Register a resident",
    "待核对冲突": "Conflicts to settle",
    "共 {n} 人": "{n} people",
    "全部标签": "All tags",
    "全部类型": "All kinds",
    "全部网格": "All grids",
    "地址包含": "Address contains",
    "查询": "Search",
    "姓名、拼音或首字母、证件号后4位、手机号": "Name, pinyin or initials, last 4 of ID, phone",
    "没有找到符合条件的居民。可以换用拼音首字母、证件号后4位，或放宽筛选条件。":
        "No resident matches. Try pinyin initials or the last 4 characters of the ID number, or "
        "widen the filters.",
    "输入姓名、拼音（如 zhangsan）或首字母（如 zs）、证件号后4位或手机号查找居民；也可以按标签、网格筛选。":
        "Find a resident by name, pinyin (zhangsan) or initials (zs), the last 4 of the ID number "
        "or a phone; or filter by tag and grid.",
    "请输入姓名、拼音或首字母、证件号码后 4 位或完整号码、完整手机号":
        "enter a name, pinyin or initials, the last 4 or all of an ID number, or a whole phone number",
    "户籍人口": "Registered",
    "流动人口": "Floating",
    "境外人员": "Overseas",
    "户籍人口（默认）": "Registered (default)",
    "居民身份证": "Resident ID card",
    "护照": "Passport",
    "港澳台居民居住证/通行证": "HK/Macao/Taiwan permit",
    "性别": "Gender",
    "年龄": "Age",
    "男": "Male",
    "女": "Female",
    "出生日期": "Date of birth",
    "证件号码": "ID number",
    "证件类型": "Document type",
    "联系电话": "Phone",
    "电话": "Phone",
    "民族": "Ethnicity",
    "国籍": "Nationality",
    "文化程度": "Education",
    "职业": "Occupation",
    "服务处所": "Employer",
    "现住址": "Address",
    "户籍地址": "Household registration address",
    "人户状态": "Residence status",
    "人户同在": "Lives at registered address",
    "户在人不在": "Registered here, lives elsewhere",
    "人在户不在": "Lives here, registered elsewhere",
    "所属网格": "Grid",
    "人口类型": "Kind",
    "标签": "Tags",
    "{n} 岁": "{n} years",
    "性别（证件不含时填写）": "Gender (if the document does not carry it)",
    "出生日期（证件不含时填写）": "Date of birth (if the document does not carry it)",
    "18 位身份证号，性别和出生日期将自动识别": "18-character ID number; gender and birth date are read from it",
    "手机号或带区号的固定电话": "Mobile, or landline with area code",
    "如 汉族": "e.g. Han",
    "以证件号码识别同一个人：已登记的人会合并到原记录，与原记录不一致的信息留待人工核对，不会直接覆盖。":
        "The ID number identifies a person: someone already registered is merged into their "
        "record, and values that disagree wait for a person to settle them; nothing is overwritten.",
    "已登记。": "Registered.",
    "此人已在册，信息已合并到原记录；不一致的内容见下方“待核对”。":
        "Already registered: merged into the existing record; disagreements are listed under “To settle”.",
    "查看完整证件号码和电话": "Show the full ID number and phone",
    "查看": "Show",
    "查看原因（将记入审计日志）": "Reason (written to the audit log)",
    "证件号码和电话已脱敏显示；您的角色无权查看完整信息。":
        "ID number and phone are masked; your role may not see them in full.",
    "您的角色无权查看完整的证件号码和电话": "Your role may not see full ID numbers and phones",
    "请写明查看原因（至少 {limit} 个字）": "give a reason (at least {limit} characters)",
    "房屋": "Houses",
    "尚未关联房屋。": "No house linked yet.",
    "已结束": "ended",
    "待核对": "To settle",
    "项目": "Field",
    "在册": "On record",
    "新来源": "New source",
    "保留在册": "Keep",
    "采用新值": "Use new value",
    "没有标签。": "No tags.",
    "待确认": "To confirm",
    "系统规则建议": "proposed by a rule",
    "确认": "Confirm",
    "确认标签": "Confirm tag",
    "不属实": "Not true",
    "驳回": "Reject",
    "修改": "Change",
    "修改原因": "Reason",
    "移除": "Remove",
    "移除原因": "Reason for removal",
    "移除标签": "Remove tag",
    "添加标签": "Add tag",
    "原因": "Reason",
    "标签历史": "Tag history",
    "系统建议": "Proposed",
    "记录走访": "Log a visit",
    "留空则保留原号码": "leave blank to keep the stored number",
    "居住和产权人员": "Residents and owners",
    "这套房屋还没有登记居住或产权人员。": "Nobody lives in or owns this house on record.",
    "楼栋": "Building",
    "单元 / 房号": "Unit / room",
    "用途": "Use",
    "产权性质": "Ownership",
    "出租": "Rented",
    "出租屋": "Rented out",
    "{n} 层": "{n} floors",
    "关系": "Relation",
    "起止": "From – to",
    "至今": "now",
    "居住": "Lives",
    "产权": "Owns",
    "租住": "Rents",
    "住宅": "Residential",
    "商铺": "Shop",
    "办公": "Office",
    "厂房": "Factory",
    "仓储": "Storage",
    "其他": "Other",
    "商品房": "Commercial housing",
    "房改房": "Reformed housing",
    "公租房": "Public rental",
    "自建房": "Self-built",
    "单位产权": "Employer-owned",
    "学龄前": "Pre-school",
    "小学": "Primary",
    "初中": "Junior secondary",
    "高中": "Senior secondary",
    "中专": "Vocational secondary",
    "大专": "College",
    "本科": "Bachelor",
    "硕士": "Master",
    "博士": "Doctorate",
    "文盲或半文盲": "Illiterate",
    "身份证号应为 18 位": "an ID number has 18 characters",
    "身份证号只能是数字，最后一位可以是 X": "digits only; the last may be X",
    "身份证号校验码不正确": "the check character of the ID number is wrong",
    "身份证号中的出生日期不正确": "the birth date in the ID number is not a date",
    "身份证号中的出生日期不能晚于今天": "the birth date in the ID number is in the future",
    "身份证号前 6 位不是有效的行政区划代码": "the first 6 digits are not an administrative area code",
    "证件号码必填": "an ID number is required",
    "证件号码只能是 5–20 位字母或数字": "5–20 letters or digits",
    "手机号应为 1[3-9] 开头的 11 位数字，固定电话应带区号":
        "a mobile number has 11 digits starting 1[3-9]; a landline needs its area code",
    "户籍和流动人口必须使用居民身份证": "registered and floating residents use the resident ID card",
    "网格 {code} 不存在": "grid {code} does not exist",
    "网格 {code} 不在您的管辖范围内": "grid {code} is outside your jurisdiction",
    "不能晚于今天": "cannot be in the future",
    "应为日期，如 1980-01-31": "must be a date, e.g. 1980-01-31",
    "此人已登记在其他网格，请联系其所在社区": "This person is registered in another grid; contact their community",
    "找不到居民 {id}": "Resident {id} not found",
    "找不到冲突记录 {id}": "Conflict {id} not found",
    "找不到居住关系 {id}": "Residence {id} not found",
    "找不到房屋 {id}": "House {id} not found",
    "找不到楼栋 {id}": "Building {id} not found",
    "该冲突已处理": "This conflict has been settled",
    "该居民信息已被他人修改，请刷新后重试": "Someone else changed this resident; reload and try again",
    "标签 {code} 不存在": "tag {code} does not exist",
    "此人已有该标签": "This person already has this tag",
    "此人没有标签 {code}": "This person has no tag {code}",
    "只能修改在用的标签": "Only an active tag can be changed",
    "该标签不在使用中": "This tag is not active",
    "该标签不是待确认状态": "This tag is not waiting for confirmation",
    "该标签已被他人修改，请刷新后重试": "Someone else changed this tag; reload and try again",
    "请写明原因": "give a reason",
    "{label}必填": "{label} is required",
    "{label}应为日期，如 2026-01-31": "{label} must be a date, e.g. 2026-01-31",
    "{label}应为 0–{limit} 的整数": "{label} must be a whole number from 0 to {limit}",
    "{label}必须是以下之一：{expected}": "{label} must be one of: {expected}",
    "{label}长度不能超过 {limit}": "{label} must have at most {limit} characters",
    "矫正结束日期不能早于开始日期": "the end of the correction term cannot be before its start",
    "该网格内已有同名楼栋": "this grid already has a building of that name",
    "该楼栋单元内已有此房号": "this room already exists in this unit",
    "应在 1–200 之间": "must be 1–200",
    "经度和纬度需同时填写": "give both longitude and latitude",
    "结束日期不能早于开始日期": "the end date cannot be before the start date",
    "此人与该房屋已有相同的在用关系": "This person already has this relation to this house",
    "该关系已结束": "This relation has already ended",
    "矫正期限": "Term",
    "矫正开始日期": "Start",
    "矫正结束日期": "End",
    "罪名": "Offence",
    "矫正负责人": "Supervisor",
    "监护人": "Guardian",
    "监护人电话": "Guardian's phone",
    "危险性评估等级": "Danger level",
    "诊断": "Diagnosis",
    "紧急联系人": "Emergency contact",
    "紧急联系电话": "Emergency phone",
    "子女联系人": "Child to contact",
    "子女电话": "Child's phone",
    "父母务工地": "Where the parents work",
    "子女务工地": "Where the children work",
    "残疾类别": "Disability",
    "残疾等级": "Grade",
    "残疾证号": "Certificate no.",
    "低保证号": "Certificate no.",
    "月保障金额（元）": "Monthly amount (yuan)",
    "释放日期": "Released on",
    "原罪名": "Offence",
    "安置帮教情况": "Resettlement",
    "管控状态": "Status",
    "开始日期": "Start",
    "信访事项": "Petition matter",
    "风险等级": "Risk level",
    "易走失原因": "Why they wander",
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
    "格式不正确（{code}）": "is invalid ({code})",
    "格式不正确（应匹配 {pattern}）": "must match the pattern {pattern}",
    "请求体不是合法的 JSON": "the request body is not valid JSON",
    "不允许提交此字段": "is not an accepted field",
    "必须是 JSON 文本": "must be JSON text",
    "必须是 JSON 对象": "must be a JSON object",
    "必须是列表": "must be a list",
    "至少需要 {limit} 项": "must have at least {limit} items",
    "最多只能有 {limit} 项": "must have at most {limit} items",
    "只能包含英文字母、数字和半角符号": "must contain ASCII characters only",
    "数值超出范围": "is out of range",
    "数字总位数不能超过 {limit}": "must have at most {limit} digits",
    "小数位数不能超过 {limit}": "must have at most {limit} decimal places",
    "整数部分位数不能超过 {limit}": "must have at most {limit} digits before the decimal point",
    "必须是 {limit} 的倍数": "must be a multiple of {limit}",
    "必须是 true 或 false": "must be true or false",
    "日期格式不正确（应为 YYYY-MM-DD）": "must be a date as YYYY-MM-DD",
    "必须是日期（YYYY-MM-DD），不能带时间": "must be a date (YYYY-MM-DD) without a time of day",
    "必须是今天以前的日期": "must be a date before today",
    "必须是今天以后的日期": "must be a date after today",
    "时间格式不正确（应为 YYYY-MM-DDTHH:MM:SS，可带时区，如 2026-01-31T08:30:00+08:00）":
        "must be a date and time as YYYY-MM-DDTHH:MM:SS, with an optional time zone, e.g. 2026-01-31T08:30:00+08:00",
    "必须是过去的时间": "must be in the past",
    "必须是将来的时间": "must be in the future",
    "必须带时区，如 +08:00": "must carry a time zone, e.g. +08:00",
    "不能带时区": "must not carry a time zone",
    "时刻格式不正确（应为 HH:MM 或 HH:MM:SS）": "must be a time of day as HH:MM or HH:MM:SS",
    "时长格式不正确（应为秒数或 ISO 8601 时长，如 PT1H30M）":
        "must be a duration in seconds or in ISO 8601, e.g. PT1H30M",
    "必须是 UUID，如 123e4567-e89b-12d3-a456-426614174000": "must be a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000",
    "必须是第 {limit} 版 UUID": "must be a version {limit} UUID",
    "必须是网址，如 https://example.org": "must be a URL, e.g. https://example.org",
    "网址长度不能超过 {limit}": "must be a URL of at most {limit} characters",
    "网址协议必须是以下之一：{expected}": "must be a URL with one of the schemes: {expected}",
    "必须是上传的文件": "must be an uploaded file",
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
    "请求格式不正确": "The request is malformed",
    "服务器内部错误，已记录，请稍后重试（请求编号 {request_id}）":
        "Internal error; it has been logged, please try again later (request {request_id})",
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
    "{department}的辖区（{region}）不含事件所在网格 {grid}":
        "the area of {department} ({region}) does not hold the case's grid {grid}",
    "该角色必须属于一个部门": "this role must belong to a department",
    "该角色不属于任何部门": "this role does not belong to a department",
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
    "欢迎": "Welcome", "欢迎，{name}": "Welcome, {name}",
    "角色": "Role", "管辖范围": "Jurisdiction", "所属部门": "Department",
    "我的网格": "My grid", "下级区划": "Subdivisions", "网格数": "Grids", "社区村数": "Communities",
    "街道乡镇数": "Streets/towns", "用户数": "Users", "部门数": "Departments",
    "编码": "Code", "名称": "Name", "级别": "Level", "所属社区": "Community", "所属街道": "Street",
    "网格员未配备": "No grid worker assigned", "面积": "Area", "平方米": "m²",
    "新建用户": "New user", "保存": "Save", "创建": "Create", "编辑": "Edit", "删除": "Delete",
    "姓名": "Name", "状态": "Status", "启用": "Active", "停用": "Disabled", "无": "None",
    "操作": "Actions", "筛选": "Filter", "全部": "All", "搜索": "Search",
    "共 {n} 条": "{n} in all", "暂无数据": "Nothing here yet",
    "新建部门": "New department", "部门代码": "Department code", "部门级别": "Level",
    "成员": "Members", "分派规则": "Area assignments", "处理人": "Handler", "负责区划": "Areas in charge",
    "：": ": ", "镇": "Town", "乡": "Township", "村": "Village",
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
    "通知投递": "Notification delivery", "全部立即重试": "Retry all now", "短信/微信网关": "SMS/WeChat gateway",
    "未配置网关（GRIDGOV_WEBHOOK_URL），只投递站内通知。":
        "No gateway configured (GRIDGOV_WEBHOOK_URL): in-app notifications only.",
    "网关自 {since} 起连续失败 {n} 次": "The gateway has failed {n} times in a row since {since}",
    "暂停调用至 {until}": "not called until {until}", "最近错误": "Last error",
    "网关正常": "The gateway is working", "恢复于 {at}": "back since {at}",
    "未配置签名密钥（GRIDGOV_WEBHOOK_SECRET），网关无法验证调用来源。":
        "No signing secret (GRIDGOV_WEBHOOK_SECRET): the gateway cannot tell that calls come from here.",
    "渠道": "Channel", "待投递": "Waiting", "最早待投递": "Oldest waiting since", "已放弃": "Given up",
    "站内通知": "In-app", "接收人": "Recipient", "写入时间": "Written", "尝试次数": "Attempts",
    "重试": "Retry", "发送中": "Sending", "下次尝试 {at}": "Next try {at}",
    "没有已放弃的通知。": "Nothing has been given up.", "没有待投递的通知。": "Nothing is waiting.",
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
    "{years} 年节假日安排尚未录入，按周一至周五计算；录入后自动重算":
        "The {years} holiday schedule is not entered yet: counted as Monday–Friday, and counted again once it is",
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
    "日期范围不正确：{first}..{last}（结束日期不能早于开始日期，范围不能超过 {limit} 天）":
        "invalid date range: {first}..{last} (the end may not precede the start, nor the range exceed {limit} days)",
    "{first}..{last} 都是周六、周日，本来就休息，没有要登记的放假日":
        "{first}..{last} are all Saturdays and Sundays, days off anyway: there is no holiday to enter",
    "{day} 不是 {year} 年登记的放假日或调休上班日": "{day} is not a holiday or make-up workday entered for {year}",
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
    "{field} 超出可查询的时间范围（0001 至 9999 年）":
        "{field} is outside the dates that can be searched (years 0001 to 9999)",
    "{field} 必须是 1 到 {limit} 之间的整数": "{field} must be a whole number from 1 to {limit}",
    "请求体必须是 application/x-www-form-urlencoded 表单（GeoReport v2 的 POST 格式），不能是 {content_type}":
        "The request body must be an application/x-www-form-urlencoded form (the GeoReport v2 POST format), "
        "not {content_type}",
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
    "文件设有打开密码，无法读取：请在 Excel 或 WPS 中取消密码并保存后再导入":
        "the file has an open password and cannot be read: remove the password in Excel or WPS, save, and import again",
    "这是旧版 Excel（.xls）或 WPS 表格（.et）文件：请在 Excel 或 WPS 中另存为 .xlsx 后再导入":
        "this is an old Excel (.xls) or WPS (.et) file: save it as .xlsx in Excel or WPS and import that",
    "文件内容过多（解压后超过 {limit} MB）：请只保留事项清单一个工作表后再导入":
        "the file holds too much (over {limit} MB unpacked): keep only the catalog sheet and import again",
    "Excel 把此格识别成了日期或时间（{value}）：请把该列设为“文本”格式后重新填写":
        "Excel read this cell as a date or time ({value}): format the column as Text and type it again",
    "有多个部门名为“{name}”，请填写责任部门代码": "several departments are named “{name}”: fill in the department code",
    "部门“{name}”不存在": "department “{name}” does not exist",
    "与责任部门代码 {code} 不符：该代码是“{actual}”": "does not match department code {code}, which is “{actual}”",
    # --- end catalog ---
}


# --- cases ---
EN.update({
    "上报上级": "Escalate", "上报事件": "Report an event", "上报时间": "Reported", "下派下级": "Hand down",
    "下派到": "Hand down to", "事件": "Cases", "事件编号": "Case no.", "事项": "Matter",
    "事项编码（可修改）": "Matter code (may be changed)", "位置": "Location", "作废": "Void", "使用定位": "Use GPS",
    "分拣": "Triage", "菜单": "Menu", "分拣原因": "Triage reason", "分拣队列": "Triage queue", "办理期限": "Deadline",
    "办理过程": "Timeline", "可执行的操作": "Actions you can take", "合并到事件": "Merge into case",
    "合并重复": "Merge duplicate", "回访评价": "Satisfaction visit", "地址": "Address", "处置中": "Handling",
    "处置反馈": "Report back", "实时": "live", "层级": "Level", "已作废": "Voided", "已合并": "Merged",
    "已回访": "Evaluated", "已结案": "Closed", "延期待审批": "extension awaiting approval",
    "延长时限": "Extend by", "建议事项": "Suggested matters", "待受理": "Reported", "待核查": "To verify",
    "待派遣": "To dispatch", "待签收": "To sign", "待结案": "To close", "恢复办理": "Resume",
    "批准延期": "Approve extension", "承办部门": "Department",
    "承办部门（留空按派单建议）": "Department (blank: the routing suggestion)", "挂账": "Deferred",
    "按描述自动判断": "Decide from the description", "描述": "Description", "提交": "Submit",
    "错误文件含原样上传的个人信息，保留 {days} 天后删除":
        "The error file holds personal data as uploaded; it is deleted after {days} days",
    "错误文件已超过保留期限（{days} 天），已删除；请重新导入以再次得到错误行":
        "The error file was deleted after {days} days; import again to get the bad rows again",
    "错误文件已超过保留期限，已删除；请重新导入以再次得到错误行":
        "The error file was deleted after its retention period; import again to get the bad rows again",
    "新增楼栋": "Add a building", "楼栋名称": "Building name", "如：建设小区3栋": "e.g. Jianshe Estate, Block 3",
    "楼栋地址": "Building address", "总层数": "Storeys", "新增房屋": "Add a home", "单元": "Unit", "楼层": "Floor",
    "建筑面积（㎡）": "Floor area (m²)", "房屋用途": "Use",
    "没有登记的楼栋。可以新增楼栋，或用 Excel 模板导入房屋。":
        "No buildings registered. Add one, or import homes with the Excel template.",
    "报告人": "Reported by", "查看完整来电号码": "Show the caller's full number",
    "查看监护人完整电话": "Show the guardian's full phone numbers",
    "您的角色无权查看完整的来电号码": "Your role may not see callers' full numbers",
    "事件 {number} 没有登记来电号码": "Case {number} has no caller's number on record",
    "网格员上报": "Grid worker", "12345 热线": "12345 hotline", "群众自报": "Resident", "Open311 接口": "Open311 API",
    "视频监控": "Video surveillance", "部门转办": "Referred by a department",
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
    "我上报的未办结": "My open reports",
    "已超 {n} 天": "{n} d overdue", "已超 {n} 小时": "{n} h overdue", "已超 {n} 分钟": "{n} min overdue",
    "办理中": "In hand", "已超时": "Overdue", "普通督办": "Supervision", "黄牌督办": "Yellow card",
    "红牌督办": "Red card", "满意": "Satisfied", "基本满意": "Basically satisfied", "不满意": "Unsatisfied",
    "黄牌": "Yellow card", "红牌": "Red card", "处置前": "Before", "处置后": "After", "附件": "Attachment",
    "期限重算": "Deadline recounted",
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
    "上报人": "the reporter", "上报该事件的网格员": "the grid worker who reported it",
    "领导或区指挥中心": "leaders or the district command centre",
})
# --- end cases ---


# --- visits and missing --- (only where no other block translated the word already)
_VISITS_MISSING = {
    "走访": "Visits", "易走失人员": "Missing-prone people", "临时走访": "Ad hoc visit",
    "临时走访（不计入定期走访）": "Ad hoc visit (not counted as a scheduled one)", "上传": "Upload", "从": "From",
    "到": "To", "住址": "Home", "住址位置": "Home location", "体貌特征": "Appearance", "保存走访": "Save visit",
    "信息收集": "Information collection", "困难帮扶": "Hardship help", "普法宣传": "Legal education",
    "权益维护": "Rights defence", "纠纷调解": "Dispute mediation", "风险化解": "Risk defusing",
    "其他联系人": "Other contact", "内容": "Content", "发现的问题": "Findings",
    "发现的问题转办": "Hand on the findings",
    "只看我的": "Mine only", "后续跟进": "Follow-up", "地点": "Place", "如：家中、社区活动室":
        "e.g. at home, community room", "如：阿尔茨海默病": "e.g. Alzheimer's disease",
    "姓名、全拼或首字母": "Name, full pinyin or initials", "定位失败，请填写地点": "GPS failed; type the place",
    "定位失败，请在地图上点选": "GPS failed; pick the point on the map",
    "本人": "The person", "家属": "Family", "邻居": "Neighbour", "未见到": "Nobody met", "寻找中": "Searching",
    "居民": "Resident", "居民姓名": "Resident's name", "已找到": "Found", "已撤销": "Cancelled", "已走访": "Visited",
    "已逾期": "Overdue", "待走访": "Due", "应访": "due", "应访日期": "Due date",
    "当前没有走失警报。": "No missing-person alerts right now.",
    "您的管辖范围内没有找到该居民。": "No such resident in your jurisdiction.",
    "您的管辖范围内没有该居民": "no such resident in your jurisdiction",
    "您的角色无权查看完整的电话号码": "Your role may not see full phone numbers", "情况说明": "Circumstances",
    "找不到易走失人员 {id}": "Missing-prone person {id} not found", "找不到标签 {code}": "Tag {code} not found",
    "找不到走失警报 {id}": "Missing-person alert {id} not found", "找不到走访记录 {id}": "Visit {id} not found",
    "找不到居民 {id}": "Resident {id} not found",
    "报告走失": "Report missing", "报告走失并通知": "Report missing and alert", "提交线索": "Submit sighting",
    "搜寻半径": "Search radius", "搜寻半径必须在 100–50000 米之间": "the search radius must be 100–50,000 m",
    "搜寻半径（米）": "Search radius (m)", "撤销": "Cancel", "撤销原因": "Why cancel", "撤销警报": "Cancel the alert",
    "日期格式应为 YYYY-MM-DD": "dates are YYYY-MM-DD", "时间": "Time", "时间不能早于 30 天前":
        "cannot be more than 30 days ago", "时间不能晚于现在": "cannot be in the future",
    "时间须带时区": "needs a time zone",
    "暂无服务记录。网格员的每一次信息收集、困难帮扶、普法宣传、权益维护、纠纷调解、风险化解都可以在这里登记。":
        "No services logged yet. Every information collection, hardship help, legal education, rights defence, "
        "dispute mediation and risk defusing a grid worker does can be logged here.",
    "暂无走访记录。": "No visits yet.", "最后出现": "Last seen", "服务对象": "Served person", "服务时间": "Served at",
    "服务时间不能晚于现在": "cannot be in the future", "服务类型": "Service type", "服务记录": "Services",
    "未定位": "no location", "条 7 天内到期": "due within 7 days", "条近 30 天已走访": "done in the last 30 days",
    "条逾期未走访": "overdue", "查找": "Find", "查看完整电话": "Show full phone numbers",
    "查看已转的事件": "Open the case it became", "查看登记": "Open the registration",
    "标签与走访周期": "Tags and visit frequencies", "标题": "Title", "正在寻找": "Searching now",
    "每类标签人员的走访周期（天）；0 表示不定期走访。修改后，下一次生成走访任务时按新周期计算。":
        "How often (days) people with each tag are visited; 0 means not on a schedule. A change applies from the "
        "next generation of due visits.",
    "没有走失记录。": "Never reported missing.", "没有逾期的走访。": "No overdue visits.",
    "没有逾期的走访，做得好。": "No overdue visits. Well done.", "添加目击线索": "Add a sighting",
    "留空为现在": "blank: now", "病情": "Condition", "登记易走失人员": "Register a missing-prone person",
    "登记服务": "Log a service", "目击线索": "Sighting", "矛盾纠纷": "Disputes",
    "矛盾纠纷暂以“矛盾纠纷”类事件办理，纠纷调处模块上线后可转入调解。":
        "Disputes are handled as cases of the Disputes category until the mediation module arrives.",
    "确认已找到": "Confirm found", "纠纷类别": "Kind of dispute",
    "经度和纬度须同时填写": "give both longitude and latitude",
    "经纬度超出范围": "coordinates out of range", "经纬度须同时填写且在有效范围内":
        "give both longitude and latitude, within range", "经过": "Timeline", "编号": "No.", "联系人": "Contact",
    "联系人最多 {limit} 位": "at most {limit} contacts", "补充照片": "Add photos", "见到": "Met",
    "见到的人": "Who was met", "警报已{status}，不能再更改": "The alert is {status}; it cannot change any more",
    "警报已被他人更新（当前版本 {current}，您提交的是 {given}），请刷新后重试":
        "The alert was changed by someone else (now version {current}, you sent {given}); reload and try again",
    "该人员已有正在寻找的走失警报（编号 {id}），请在警报页面添加目击线索":
        "This person already has an open alert (no. {id}); add a sighting on the alert's page",
    "该居民在 {day} 已有一条{kind}走访记录，请打开那条记录":
        "This resident already has a visit {kind}on {day}; open that one", "该标签的": "for this tag ",
    "该居民已在易走失人员名册中（编号 {id}）": "This resident is already in the registry (no. {id})",
    "该居民没有有效的“{tag}”标签": "the resident has no active tag “{tag}”",
    "该走访已于 {at} 记录，不能重复记录": "This visit was already recorded on {at}",
    "请使用定位，或填写走访地点": "use GPS or type the place", "请先选择走访对象": "choose whom you visited first",
    "请写明撤销原因": "say why the alert is cancelled", "请在地图上点选位置": "Click the map to place it",
    "请在地图上点选最后出现的位置或使用定位": "click the map where the person was last seen, or use GPS",
    "请填写监护人姓名": "the guardian's name is required", "请填写监护人电话": "the guardian's phone is required",
    "请填写见到的人（本人、家属、邻居或未见到）": "say whom you met (the person, family, a neighbour, or nobody)",
    "请选择登记的居民": "choose the resident to register", "请选择纠纷类别": "choose the kind of dispute",
    "请选择网格、服务对象或定位": "choose a grid, the person served, or use GPS", "走失警报": "Missing-person alert",
    "走失记录": "Missing reports", "走访周期必须在 0–366 天之间（0 表示不定期走访）":
        "the visit frequency must be 0–366 days (0: not on a schedule)", "走访周期（天）": "Visit every (days)",
    "走访对象": "Person visited", "走访时间": "Visited at", "走访时间不能晚于现在": "cannot be in the future",
    "只能补录 31 天内的走访": "only visits of the last 31 days can be entered",
    "走访没有定位，无法转为事件，请在走访记录中补充位置": "the visit has no location, so it cannot become a case",
    "走访类别": "Visit for", "走访记录已被他人更新（当前版本 {current}，您提交的是 {given}），请刷新后重试":
        "The visit was changed by someone else (now version {current}, you sent {given}); reload and try again",
    "走访记录没有发现的问题，无法转为事件": "the visit recorded no findings to turn into a case",
    "{code} 不是矛盾纠纷类事项": "{code} is not a dispute matter",
    "身高、体型、衣着习惯等": "height, build, usual clothes",
    "转为矛盾纠纷": "Turn into a dispute", "转为网格事件": "Turn into a grid case",
    "近期没有待走访的对象。走访任务按标签的走访周期每天自动生成。":
        "Nobody is due for a visit soon. Due visits are generated daily from the tags' visit frequencies.",
    "附近摄像头：摄像头登记后，将在地图上显示离最后出现位置最近的摄像头。":
        "Nearby cameras: once cameras are registered, the ones nearest the last-seen point show on the map.",
    "查看原因（将记入审计日志）":
        "Why you need it (written to the audit log)", "电话": "Phone", "关系": "Relation", "姓名": "Name",
    "监护人": "Guardian", "监护人电话": "Guardian's phone", "全部": "All", "筛选": "Filter", "保存": "Save",
    "已保存": "Saved", "启用": "Active", "记录走访": "Record the visit", "提交": "Submit",
}
for _zh, _en in _VISITS_MISSING.items():
    EN.setdefault(_zh, _en)
# --- end visits and missing ---


# --- people Excel in and out ---
EN.update({
    "Excel 导入": "Excel import", "上一页": "Previous", "下一页": "Next", "下载导入模板": "Download a template",
    "与{where}重复": "duplicates {where}", "人房关系": "Person–house relations", "居民": "Residents",
    "房屋": "Houses", "标签": "Tags", "保留原值": "Keep current", "采用导入值": "Use imported",
    "冲突": "Conflicts", "失败": "Failed", "字段": "Field", "导入值": "Imported value", "当前值": "Current value",
    "导入方式": "Mode", "全部正确才导入": "All or nothing", "只导入正确的行": "Import the good rows",
    "导入的数据与登记信息不一致时不会覆盖，请逐条决定保留原值或采用导入值。":
        "Imported values that disagree with the register never overwrite it: decide for each one.",
    "导入进度": "Import progress", "工作簿中有无法识别的工作表，见错误文件":
        "The workbook has sheets that cannot be recognised; see the error workbook",
    "工作表“{sheet}”缺少必填列：{columns}": "Sheet “{sheet}” lacks required columns: {columns}",
    "工作表“{name}”不是已知的标签，应为：{expected}": "Sheet “{name}” is not a known tag; expected: {expected}",
    "已保留原值": "Kept the current value", "已采用导入值": "Used the imported value", "已写入": "Written",
    "已完成": "Done", "已检查": "Checked", "开始导入": "Start import", "待处理冲突": "Conflicts to settle",
    "总行数": "Rows", "您的角色无权导出完整的证件号码和电话":
        "Your role may not export full ID and phone numbers",
    "我的导入": "My imports", "找不到导入任务 {id}": "Import {id} not found",
    "找不到房屋 {house}，请先导入房屋": "House {house} not found; import the houses first",
    "排队中": "Queued", "进行中": "Running", "数据类型": "Data", "文件": "File", "数据来源": "Source",
    "有与登记信息不一致的值，去处理": "Some values disagree with the register: settle them",
    "模板含中文列名、下拉选项和填写说明（示例中的证件号码是虚构的）。":
        "Templates have Chinese headers, drop-down lists and notes (the example ID numbers are fictitious).",
    "此人不在您的管辖范围内": "this person is outside your jurisdiction",
    "此人已登记在您管辖范围以外的网格，请联系其所在社区":
        "this person is registered in a grid outside your jurisdiction; contact their community",
    "没有“{kind}”的导入模板": "There is no import template for “{kind}”",
    "没有待处理的冲突": "No conflicts to settle", "没有标签工作表，请使用导入模板":
        "no tag sheets: use the import template",
    "系统中没有此人，请先导入居民": "this person is not on the register; import the residents first",
    "证件号码应设为文本格式：Excel 只保留数字的前 15 位，后几位已变成 0":
        "format the ID number column as text: Excel keeps 15 digits of a number and zeroes the rest",
    "该导入没有错误文件": "This import has no error workbook",
    "请写明导出完整号码的原因（至少 4 个字）": "give the reason for exporting full numbers (at least 4 characters)",
    "错误行": "Bad rows", "必须是“是”或“否”": "must be 是 (yes) or 否 (no)", "如 卫健局、民政局":
        "e.g. the health or civil affairs bureau", "Excel 文件": "Excel file", "上传": "Upload", "返回": "Back",
    "下载错误行（含错误原因）": "Download the bad rows (with reasons)", "{label}应为日期，如 2026-01-31":
        "{label} must be a date such as 2026-01-31",
    # the error workbook and the run's messages (gridgov/people/imports.py)
    "错误明细": "Errors", "错误行-": "Bad rows-", "工作表": "Sheet", "值": "Value", "原行号": "Row in the file",
    "；": "; ", "与第 {row} 行重复": "duplicates row {row}", "与“{sheet}”第 {row} 行重复":
        "duplicates row {row} of sheet “{sheet}”",
    "这是 15 位旧身份证号，请填写 18 位号码": "this is an old 15-digit ID number: give the 18-character one",
    "工作表“{sheet}”中有重复的列：{columns}": "Sheet “{sheet}” has the same column twice: {columns}",
    "正在检查": "Checking", "正在写入": "Writing", "正在检查并写入": "Checking and writing",
    "导入已中断：处理它的进程已停止（服务重启或崩溃），请重新导入。已写入的行会按证件号等合并，不会重复。":
        "The import stopped: the process running it ended (a restart or a crash). Import the file again; rows "
        "already written merge by ID number and the like, nothing is doubled.",
    "导入中断：服务器内部错误（{error}），详情已记入服务器日志，请联系管理员":
        "The import stopped on an internal error ({error}), logged on the server; contact the administrator",
    "导入中断：检查进程意外退出（退出码 {exit_code}）":
        "The import stopped: the checking process ended unexpectedly (exit code {exit_code})",
    "中断前已写入 {written} 行，重新导入同一文件即可补齐，不会重复":
        "{written} rows were written before it stopped; import the same file again to complete it, nothing is doubled",
    "未写入任何数据": "nothing was written",
    "{bad} 行有错误，未导入任何数据（全部正确才导入）": "{bad} rows have errors; nothing was imported (all or nothing)",
    "{bad} 行有错误，没有正确的行可导入": "{bad} rows have errors; no good rows to import",
    "共 {checked} 行：新建 {created}，更新 {updated}，未变 {unchanged}":
        "{checked} rows: {created} created, {updated} updated, {unchanged} unchanged",
    "{conflicts} 处与登记信息不一致，待人工处理":
        "{conflicts} values disagree with the register and wait to be settled",
    "{bad} 行有错误未导入": "{bad} rows with errors not imported",
    "已跳过没有所需列名的工作表：{sheets}": "sheets without the required column headers were skipped: {sheets}",
})
# --- end people Excel ---


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


# --- people imports: a resent upload (gridgov/people/import_views.py) ---
EN.update({
    "重复提交": "Sent twice",
})


# --- staff mobiles (gridgov/accounts, the user pages) ---
EN.update({
    "手机号": "Mobile",
    "手机号应为 1[3-9] 开头的 11 位数字": "a mobile number has 11 digits starting 1[3-9]",
    "须为手机号：固定电话收不到短信": "must be a mobile number: a landline cannot receive text messages",
    "用于短信通知，可不填": "For SMS notices; optional",
    "留空则不修改": "Leave empty to keep it",
    "当前：{mobile}": "Now: {mobile}",
    "未填写": "None",
    "清除手机号": "Remove the mobile number",
})


# --- outbox retention (gridgov/notify/retention.py, the /admin/outbox page) ---
EN.update({
    "已发送的消息保留 {days} 天后自动删除；待投递和已放弃的消息不会因时间删除，站内通知不受影响。":
        "Delivered messages are deleted after {days} days; waiting and given-up messages are never deleted for "
        "their age, and the in-app notices users read are not touched.",
})

EN.update({  # the audit log page
    "审计日志": "Audit log", "校验日志链": "Check the chain", "操作人": "By",
    "操作人姓名或账号": "Name or account of who acted",
    "对象": "Record", "涉及": "Whose", "至": "to", "导出": "Export", "查看完整信息": "Full details seen",
    "新建账户": "Account created", "修改账户": "Account changed",
    "读过的通知保留 {days} 天后自动删除；未读的通知不会因时间删除。":
        "Notices are deleted {days} days after they were read; unread ones are never deleted for their age.",
    "日志链完整：{n} 条记录均未被修改或删除。": "The chain is whole: none of its {n} entries was changed or deleted.",
    "日志链已被破坏": "The chain is broken",
    "日期格式不正确，已忽略：{dates}（应为 YYYY-MM-DD）": "Dates not understood, ignored: {dates} (use YYYY-MM-DD)",
    "没有符合条件的审计记录。查看完整身份证号或电话、导出个人信息、新建或修改账户时都会记入审计日志。":
        "No audit entries match. Seeing a full ID or phone number, exporting personal data, and creating or "
        "changing an account are all recorded here.",
})
