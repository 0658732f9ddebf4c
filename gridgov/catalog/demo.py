"""The demo district's catalog (事项清单): 9 大类, their 小类 and exactly 150 items over the 17 demo
departments (DESIGN §1: "17 departments and their 150 event-handling matters").

大类 01–05 are the event classes of CJ/T 214 数字化城市管理信息系统 (市容环境, 宣传广告, 施工管理,
突发事件, 街面秩序); 06–09 are social-governance kinds. Codes are positional: an item's code is
its 小类 code plus a two-digit sequence. Deterministic and idempotent: every record is looked up
by its code first, so a second run creates nothing (and leaves edited items alone).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.catalog.models import CatalogItem, Category
from gridgov.departments.models import Department

# Items: (name, department code, level, handling limit, keywords[, registration standard, closure standard]).
# Level: c 社区 / s 街道 / d 区. Limit: "h4" 4 工作时, "d3" 3 工作日, "n30" 30 自然日, "u4" an urgent
# matter whose every step runs in 紧急工作时 (处置 4 紧急工作时). A trailing "*" on the name: the grid
# worker may self-handle it on the spot.
CATALOG: list[tuple[str, str, str, list]] = [
    ("01", "市容环境", "urban", [
        ("0101", "环境卫生", ("{name}面积超过 0.5 平方米或存在超过 2 小时，有现场照片和准确位置",
                          "{name}已清理干净、无残留，处置后照片与上报位置一致"), [
            ("暴露垃圾*", "CGJ", "d", "h4", "垃圾 生活垃圾 垃圾堆 乱扔垃圾 没人清理 清理 脏乱"),
            ("积存垃圾渣土", "CGJ", "d", "d1", "渣土 积存 垃圾 建筑垃圾 堆积 清运"),
            ("道路不洁", "CGJ", "d", "h4", "道路不洁 路面 脏 污渍 油污 清扫 泥土"),
            ("水域不洁", "SLJ", "d", "d2", "水域 河道 水面 漂浮物 池塘 垃圾"),
            ("绿地脏乱", "CGJ", "d", "d1", "绿地 草坪 绿化带 脏乱 垃圾 杂物"),
            ("垃圾满冒", "CGJ", "d", "h4", "垃圾桶 垃圾箱 满溢 满冒 溢出 清运"),
            ("焚烧垃圾树叶*", "HBJ", "d", "h4", "焚烧 烧垃圾 烧树叶 冒烟 浓烟 露天焚烧"),
            ("动物尸体", "CGJ", "d", "h4", "动物尸体 死猫 死狗 死老鼠 腐烂 发臭"),
            ("公厕脏乱", "CGJ", "d", "d1", "公厕 公共厕所 厕所 脏 臭 堵塞"),
            ("废弃家具设备", "CGJ", "s", "d3", "废弃家具 沙发 床垫 旧家电 大件垃圾 丢弃"),
        ]),
        ("0102", "违法建设", ("发现{name}，经现场核实正在建设或已建成，有照片和位置",
                          "{name}已拆除或依法处理完毕，现场恢复原状"), [
            ("私搭乱建", "CGJ", "d", "d10", "违建 违章建筑 私搭乱建 搭建 棚子 违章搭建"),
            ("违规接坡", "CGJ", "d", "d5", "接坡 台阶 坡道 路沿 水泥坡"),
            ("侵占绿地", "CGJ", "d", "d5", "侵占绿地 毁绿 种菜 毁坏绿化 占用绿化带"),
            ("楼顶违建", "ZJJ", "d", "d15", "楼顶 屋顶 加层 阳光房 顶楼违建"),
        ]),
        ("0103", "污染扰民", ("{name}持续存在，影响周边居民正常生活，有照片、视频或多人反映",
                          "{name}已消除或已责令整改并复查达标"), [
            ("油烟污染", "HBJ", "d", "d5", "油烟 餐馆 排烟 油烟机 饭店 油烟味"),
            ("露天烧烤*", "CGJ", "s", "h4", "烧烤 露天烧烤 烤串 夜宵 烟雾"),
            ("商业噪声扰民", "HBJ", "d", "d2", "商铺 喇叭 促销 音响 商业噪声 店铺噪音"),
            ("广场舞噪声扰民", "GAJ", "s", "d2", "广场舞 跳舞 音乐 音响声音 外放"),
            ("污水直排", "HBJ", "d", "d5", "污水 直排 排污 黑水 臭水 排放"),
            ("异味扰民", "HBJ", "d", "d5", "异味 臭味 刺鼻 气味 恶臭"),
        ]),
        ("0104", "绿化与动物", ("{name}已影响通行、安全或环境，有照片和位置",
                            "{name}已处理完毕，现场安全、整洁"), [
            ("树木倒伏", "CGJ", "d", "u8", "树木倒伏 大树 倒伏 断枝 树倒 压车"),
            ("绿化缺损", "CGJ", "d", "d5", "绿化缺损 草皮 死树 补种 黄土裸露"),
            ("违规饲养家禽家畜", "NYJ", "s", "d5", "养鸡 养鸭 家禽 家畜 养猪 饲养"),
            ("流浪犬", "GAJ", "d", "d2", "流浪狗 流浪犬 野狗 咬人 狗"),
            ("树木病虫害", "ZRJ", "d", "d10", "虫害 病虫害 白蚁 树木 害虫 枯死"),
        ]),
    ]),
    ("02", "宣传广告", "urban", [
        ("0201", "非法广告", ("发现{name}，有现场照片和准确位置",
                          "{name}已清除或撤除，现场无残留"), [
            ("乱张贴*", "CGJ", "c", "h4", "小广告 张贴 牛皮癣 乱贴 贴广告 办证"),
            ("乱涂写*", "CGJ", "c", "d1", "涂鸦 乱涂 乱写 刻画 喷涂 电话号码"),
            ("违规散发广告*", "CGJ", "s", "h4", "发传单 散发 派单 传单 小卡片"),
            ("违规悬挂横幅*", "CGJ", "s", "h4", "横幅 条幅 悬挂 标语"),
            ("占道广告牌*", "CGJ", "s", "h4", "立牌 展板 易拉宝 占道广告 广告架"),
        ]),
        ("0202", "户外广告设施", ("{name}影响市容或存在安全隐患，有照片和位置",
                            "{name}已拆除、修复或完成审批，复查合格"), [
            ("违规户外广告", "CGJ", "d", "d5", "户外广告 违规广告 大型广告 未审批广告 广告牌"),
            ("店招店牌破损", "CGJ", "d", "d3", "招牌 店招 店牌 破损 脱落"),
            ("户外广告坠落隐患", "CGJ", "d", "u8", "招牌松动 坠落 摇晃 大风 广告坠落"),
            ("虚假违法广告", "SJJ", "d", "d5", "虚假广告 违法广告 夸大宣传 保健品 宣传"),
        ]),
    ]),
    ("03", "施工管理", "urban", [
        ("0301", "施工扰民与污染", ("{name}经现场核实属实，有照片、视频或监测记录",
                              "施工单位已整改，现场复查达标，不再扰民"), [
            ("施工扰民", "ZJJ", "d", "d2", "施工扰民 夜间施工 打桩 工地噪音 施工噪音"),
            ("施工扬尘", "HBJ", "d", "d2", "扬尘 灰尘 粉尘 工地 未覆盖 裸土"),
            ("渣土车撒漏", "CGJ", "d", "h4", "渣土车 撒漏 抛洒 泥土 运输车 带泥上路"),
            ("施工废弃料", "ZJJ", "d", "d3", "施工废料 建筑废料 废弃料 工地堆放"),
            ("工地泥浆外排", "HBJ", "d", "d3", "泥浆 外排 工地污水 泥水"),
            ("无证施工", "ZJJ", "d", "d5", "无证施工 施工许可 未批先建 违规施工"),
        ]),
        ("0302", "道路与管线施工", ("{name}影响通行或安全，有照片和准确位置",
                              "已恢复、修复或补办手续，通行安全，复查合格"), [
            ("占道施工", "JTJ", "d", "d3", "占道施工 挖路 道路开挖 围挡 占道"),
            ("施工围挡破损", "ZJJ", "d", "d2", "围挡 破损 倒塌 工地围墙"),
            ("道路破损", "JTJ", "d", "d5", "道路破损 坑洼 路面 坑 破损"),
            ("人行道破损", "CGJ", "d", "d5", "人行道 地砖 松动 破损 翘起"),
            ("开挖路面未恢复", "ZJJ", "d", "d5", "开挖 未恢复 回填 管线 挖开"),
            ("施工安全防护缺失", "YJJ", "d", "u8", "施工防护 安全网 坠物 基坑 脚手架"),
        ]),
    ]),
    ("04", "突发事件", "urban", [
        ("0401", "市政设施险情", ("发现{name}，可能危及行人、车辆安全，有照片和准确位置",
                            "险情已排除，设施恢复正常，处置后照片为证"), [
            ("井盖缺失", "CGJ", "d", "u4", "井盖 缺失 窨井 井盖丢失 井口 没盖"),
            ("井盖破损", "CGJ", "d", "u8", "井盖破损 井盖松动 井盖塌陷 窨井盖"),
            ("路灯不亮", "CGJ", "d", "d2", "路灯 不亮 灯坏 照明 黑灯 路灯坏"),
            ("道路塌陷", "ZJJ", "d", "u4", "塌陷 路面塌陷 坑洞 地陷 下沉"),
            ("供水管道爆裂", "SWS", "d", "u4", "水管 爆裂 爆管 冒水 自来水 水管破"),
            ("排水管道堵塞", "SWS", "d", "d1", "下水道 堵塞 排水 污水冒溢 管道 返水"),
            ("电力线路故障", "GDS", "d", "u4", "电线 断线 线路 掉落 电缆 漏电 电线杆"),
            ("停电", "GDS", "d", "u4", "停电 断电 没电 跳闸 电力"),
            ("交通信号灯故障", "GAJ", "d", "u4", "红绿灯 信号灯 交通灯 故障 不亮"),
        ]),
        ("0402", "公共安全突发", ("接报{name}即立案，先处置后补充材料",
                            "险情已消除，现场安全，伤亡和损失情况已报告"), [
            ("燃气泄漏", "ZJJ", "d", "u2", "燃气 煤气 泄漏 漏气 天然气 燃气味 煤气味"),
            ("火灾", "YJJ", "d", "u1", "火灾 起火 着火 冒烟 失火 火情"),
            ("危化品泄漏", "YJJ", "d", "u2", "危化品 化学品 危险品 有毒 泄漏"),
            ("交通事故", "GAJ", "d", "u1", "车祸 交通事故 撞车 相撞 追尾"),
            ("人员溺水", "YJJ", "d", "u1", "溺水 落水 掉河里 游泳 救人"),
            ("群体性聚集", "GAJ", "d", "u2", "聚集 围堵 群体 堵路 围观"),
        ]),
        ("0403", "自然灾害", ("接报{name}即立案，危险区域人员先撤离",
                          "险情已排除或已采取防护措施，受影响群众已妥善安置"), [
            ("城市内涝", "SWS", "d", "u4", "内涝 积水 淹水 排涝 暴雨 水淹"),
            ("山体滑坡", "ZRJ", "d", "u2", "滑坡 山体 塌方 泥石流 落石"),
            ("地质灾害隐患", "ZRJ", "d", "u8", "地质灾害 地裂 沉降 裂缝 地面开裂"),
            ("河道险情", "SLJ", "d", "u2", "河堤 管涌 漫堤 决口 洪水 水位上涨"),
            ("山林火情", "ZRJ", "d", "u1", "山火 森林火灾 林火 烧山 山上着火"),
            ("动物疫情", "NYJ", "d", "u4", "动物疫情 病死 禽流感 猪瘟 疫病 死鸡"),
        ]),
    ]),
    ("05", "街面秩序", "urban", [
        ("0501", "占道经营", ("{name}影响通行或市容，有照片和准确位置",
                          "占道物品已清除或经营者已劝离，现场恢复通行"), [
            ("乱摆卖*", "CGJ", "s", "h4", "摆摊 流动摊贩 乱摆卖 地摊 小贩 摆卖"),
            ("占道经营*", "CGJ", "s", "h4", "占道经营 店外经营 出店经营 门口摆放 占用人行道"),
            ("无照经营", "SJJ", "d", "d5", "无照经营 无证经营 营业执照 黑作坊"),
            ("店外堆物*", "CGJ", "c", "h4", "店外堆物 堆放杂物 门前堆放 货物"),
            ("沿街晾挂*", "CGJ", "c", "h4", "晾晒 晾挂 衣服 被子 护栏晾晒"),
        ]),
        ("0502", "车辆停放", ("{name}影响通行或安全，有照片和准确位置",
                          "车辆已移走或已依法处理，通行恢复"), [
            ("机动车乱停放", "GAJ", "d", "d1", "乱停 违停 违章停车 占道停车 挡路 汽车"),
            ("非机动车乱停放*", "CGJ", "c", "h4", "电动车乱停 自行车 共享单车 单车 乱停乱放"),
            ("僵尸车", "GAJ", "d", "d5", "僵尸车 废弃车辆 长期停放 报废车 落满灰"),
            ("黑车非法营运", "JTJ", "d", "d3", "黑车 非法营运 摩的 拉客"),
            ("占用盲道*", "CGJ", "c", "h4", "盲道 占用盲道 盲道堵塞"),
        ]),
        ("0503", "交通设施", ("{name}影响交通安全，有照片和准确位置",
                          "设施已修复或更换，复查完好"), [
            ("交通标志缺损", "JTJ", "d", "d3", "交通标志 标牌 指示牌 缺失 倒伏"),
            ("公交站亭破损", "JTJ", "d", "d3", "公交站 站亭 候车亭 站牌 破损"),
            ("道路护栏破损", "JTJ", "d", "d3", "护栏 隔离栏 栏杆 破损 撞坏"),
            ("校园周边交通拥堵", "GAJ", "s", "d2", "学校门口 接送 放学 上学 拥堵 堵车"),
        ]),
        ("0504", "街面其他", ("发现{name}，经核实属实，有照片和位置",
                          "人员已劝离、救助或妥善处置，街面恢复秩序"), [
            ("街头乞讨", "MZJ", "s", "d1", "乞讨 乞丐 讨钱 要饭"),
            ("流浪人员救助", "MZJ", "s", "u8", "流浪人员 流浪汉 露宿 无家可归 救助"),
        ]),
    ]),
    ("06", "矛盾纠纷", "social", [
        ("0601", "婚姻家庭邻里", ("当事人一方或多方申请调解，或网格员排查发现{name}",
                            "达成调解协议并履行，或已引导当事人通过法律途径解决，回访无反复"), [
            ("邻里纠纷", "SFJ", "c", "d5", "邻居 邻里 吵架 纠纷 矛盾 楼上 楼下 漏水 噪音 争吵"),
            ("家庭纠纷", "SFJ", "c", "d5", "家庭 夫妻 赡养 子女 婆媳 家务事"),
            ("婚恋纠纷", "SFJ", "c", "d10", "婚姻 离婚 恋爱 彩礼 分手"),
            ("家庭暴力", "GAJ", "s", "u8", "家暴 家庭暴力 殴打 打老婆 虐待"),
        ]),
        ("0602", "物业与房屋", ("当事人申请调解或网格员排查发现{name}，有明确诉求",
                            "双方达成一致或问题已解决，回访满意"), [
            ("物业纠纷", "ZJJ", "s", "d10", "物业 物业费 物业公司 业委会 小区管理"),
            ("房屋租赁纠纷", "ZJJ", "s", "d10", "租房 房东 租客 押金 租赁"),
            ("装修扰民纠纷", "ZJJ", "c", "d5", "装修 电钻 敲打 装修噪音 装修扰民"),
            ("房屋渗漏纠纷", "ZJJ", "c", "d10", "渗水 渗漏 天花板 墙面 楼上漏水"),
            ("停车位纠纷", "ZJJ", "s", "d10", "车位 停车位 车库 占用车位 地下车库"),
        ]),
        ("0603", "劳资与经济", ("当事人申请调解或投诉{name}，诉求明确",
                            "款项已支付、协议已履行或已引导进入仲裁、诉讼程序"), [
            ("劳资纠纷", "RSJ", "d", "d10", "欠薪 工资 拖欠 讨薪 劳资 农民工"),
            ("劳动合同纠纷", "RSJ", "d", "d15", "劳动合同 辞退 解雇 加班 经济补偿"),
            ("消费纠纷", "SJJ", "d", "d7", "消费 退款 商家 假货 售后 退货"),
            ("债务纠纷", "SFJ", "s", "d15", "借钱 欠钱 债务 借款 还钱"),
            ("合同纠纷", "SFJ", "s", "d15", "合同 违约 赔偿 协议 违约金"),
        ]),
        ("0604", "土地与征拆", ("当事人申请调解或排查发现{name}，涉及权属或补偿",
                            "达成协议或已依法处理，当事人无异议，回访无反复"), [
            ("征地拆迁纠纷", "ZRJ", "d", "n30", "征地 拆迁 补偿 安置 征收"),
            ("土地山林权属纠纷", "ZRJ", "d", "n30", "山林 宅基地 权属 地界 边界"),
            ("农村土地承包纠纷", "NYJ", "s", "n30", "承包地 土地承包 流转 耕地 承包"),
            ("水利权属纠纷", "SLJ", "s", "n30", "用水纠纷 灌溉 水塘 水渠 放水"),
        ]),
        ("0605", "其他纠纷", ("当事人申请调解或有关单位移交{name}",
                          "达成调解协议或已依法处理，回访无反复"), [
            ("医患纠纷", "WJJ", "d", "d15", "医患 医院 医疗事故 医闹 医生 看病"),
            ("校园纠纷", "JYJ", "d", "d10", "学校 学生 老师 校园 欺凌 家长"),
            ("环境污染纠纷", "HBJ", "d", "d10", "污染赔偿 环境纠纷 污染损害 排放"),
            ("交通事故赔偿纠纷", "SFJ", "d", "d15", "事故赔偿 理赔 车祸赔偿 保险"),
        ]),
    ]),
    ("07", "治安隐患", "social", [
        ("0701", "治安秩序", ("发现或接报{name}线索，有时间、地点和基本情况",
                          "公安机关已出警处置或立案调查，结果已反馈"), [
            ("打架斗殴", "GAJ", "d", "u1", "打架 斗殴 打人 群殴 持刀"),
            ("盗窃", "GAJ", "d", "u4", "偷 盗窃 被盗 小偷 偷车 丢失"),
            ("赌博", "GAJ", "d", "d1", "赌博 聚赌 赌场 赌钱 牌局"),
            ("电信网络诈骗", "GAJ", "d", "u4", "诈骗 骗子 电话诈骗 转账 被骗 刷单"),
            ("传销", "GAJ", "d", "d3", "传销 拉人头 洗脑 发展下线"),
            ("涉毒涉黄线索", "GAJ", "d", "d1", "吸毒 毒品 卖淫 涉黄 涉毒"),
        ]),
        ("0702", "重点人员", ("发现{name}，经网格员核实",
                          "已落实稳控或帮扶措施，情况已反馈"), [
            ("严重精神障碍患者肇事隐患", "WJJ", "s", "u8", "精神病 精神障碍 发病 肇事 精神异常"),
            ("社区矫正对象异常", "SFJ", "s", "d1", "社区矫正 矫正对象 脱管 漏管"),
            ("刑满释放人员帮教", "SFJ", "c", "d5", "刑满释放 帮教 安置帮教 出狱"),
            ("重点信访人员异常动态", "GAJ", "s", "d1", "上访 信访 越级上访 进京"),
            ("吸毒人员管控", "GAJ", "s", "d1", "吸毒人员 社区戒毒 复吸 戒毒"),
        ]),
        ("0703", "场所治安", ("检查或接报发现{name}，有照片或记录",
                          "已责令整改或依法处理，复查合格"), [
            ("出租房屋治安隐患", "GAJ", "s", "d3", "出租屋 群租 流动人口 租住登记"),
            ("娱乐场所违规经营", "GAJ", "d", "d3", "KTV 网吧 酒吧 娱乐场所 未成年人"),
        ]),
    ]),
    ("08", "安全隐患", "social", [
        ("0801", "消防安全", ("发现{name}，有照片和准确位置",
                          "隐患已消除，复查合格，处置后照片为证"), [
            ("消防通道堵塞", "YJJ", "s", "d1", "消防通道 堵塞 占用 通道 杂物 车堵"),
            ("电动车违规充电*", "YJJ", "c", "h4", "电动车 充电 飞线充电 楼道充电 入户充电 电瓶"),
            ("消防设施损坏", "YJJ", "d", "d3", "灭火器 消防栓 消火栓 消防设施 过期"),
            ("楼道堆放杂物*", "YJJ", "c", "h4", "楼道 杂物 堆放 易燃物 纸箱"),
            ("三合一场所", "YJJ", "d", "d5", "三合一 住人 仓库 厂房 生产住宿"),
        ]),
        ("0802", "燃气与用电", ("发现{name}，存在火灾或爆炸风险，有照片和位置",
                            "隐患已整改，复查合格"), [
            ("燃气管道老化", "ZJJ", "d", "d5", "燃气管 老化 燃气管道 锈蚀 燃气表"),
            ("瓶装液化气违规使用", "SJJ", "d", "d3", "液化气 煤气罐 钢瓶 气瓶 液化石油气"),
            ("私拉乱接电线", "GDS", "s", "d2", "私拉电线 乱接 私接 拉线 电线乱"),
            ("电力设施安全隐患", "GDS", "d", "d3", "变压器 电箱 配电箱 倾斜 电力设施"),
        ]),
        ("0803", "建筑与设施安全", ("发现{name}，可能危及人身安全，有照片和位置",
                              "隐患已排除或已设置警示、落实防护，复查合格"), [
            ("危房", "ZJJ", "d", "u8", "危房 房屋开裂 倾斜 墙体裂缝 房子裂"),
            ("电梯故障", "SJJ", "d", "u4", "电梯 困人 电梯故障 停运 关在电梯"),
            ("高空坠物隐患", "ZJJ", "s", "d2", "高空坠物 坠落 花盆 外墙脱落 窗户"),
            ("水塘安全防护缺失", "SLJ", "s", "d5", "水塘 护栏 警示牌 防溺水"),
            ("自建房安全隐患", "ZJJ", "d", "d10", "自建房 加层 改建 承重 经营性自建房"),
        ]),
        ("0804", "食品药品", ("发现或接报{name}，有照片、票据或实物",
                          "已依法查处或整改，复查合格"), [
            ("食品安全隐患", "SJJ", "d", "d3", "食品 过期 变质 食物中毒 无证餐饮"),
            ("药品安全隐患", "SJJ", "d", "d5", "药品 假药 过期药 药店"),
            ("校园食品安全", "JYJ", "d", "d2", "食堂 学校食堂 午餐 学生餐 校园食品"),
        ]),
        ("0805", "生产安全", ("发现{name}，有照片和位置",
                          "已责令停产整改或依法处理，复查合格"), [
            ("非法储存烟花爆竹", "YJJ", "d", "d1", "烟花 爆竹 鞭炮 非法储存"),
            ("企业安全生产隐患", "YJJ", "d", "d5", "安全生产 工厂 企业 违规作业 安全隐患"),
            ("假劣农资", "NYJ", "d", "d5", "农药 化肥 假农资 种子 禁用农药"),
        ]),
    ]),
    ("09", "民生服务", "social", [
        ("0901", "社会救助与养老", ("网格员走访或群众反映{name}需求，经核实",
                              "帮扶措施已落实，回访对象或家属满意"), [
            ("独居老人帮扶", "MZJ", "c", "d3", "独居老人 空巢老人 老人 无人照顾 帮扶 看望"),
            ("困难群众救助", "MZJ", "s", "d10", "低保 困难 救助 生活困难 贫困"),
            ("残疾人帮扶", "MZJ", "s", "d10", "残疾人 残疾 轮椅 辅具"),
            ("留守儿童关爱", "MZJ", "c", "d5", "留守儿童 儿童 无人监护 孩子没人管"),
        ]),
        ("0902", "就业与社保", ("群众提出{name}诉求，信息齐全",
                            "已答复或办结，群众满意"), [
            ("就业援助", "RSJ", "s", "d10", "就业 失业 找工作 招聘 技能培训"),
            ("社保医保咨询", "RSJ", "s", "d5", "社保 养老保险 医保 参保 退休"),
        ]),
        ("0903", "卫生健康", ("发现或接报{name}，经核实",
                          "已采取处置措施并反馈，复查达标"), [
            ("病媒生物孳生", "WJJ", "s", "d5", "老鼠 蟑螂 蚊子 苍蝇 灭鼠"),
            ("传染病疫情报告", "WJJ", "d", "u4", "发烧 传染病 疫情 发热 聚集性"),
        ]),
        ("0904", "教育服务", ("发现或接报{name}，经核实",
                          "已落实入学、复学或帮扶措施，回访满意"), [
            ("适龄儿童失学辍学", "JYJ", "s", "d10", "辍学 失学 适龄儿童 入学 不上学"),
        ]),
        ("0905", "水电服务", ("接报{name}，经核实影响居民生活",
                          "供应已恢复或问题已解决，回访满意"), [
            ("停水", "SWS", "d", "u8", "停水 没水 水压低 断水"),
            ("水质异常", "SWS", "d", "u8", "水质 自来水发黄 浑浊 水有异味"),
        ]),
        ("0906", "农业农村", ("发现或接报{name}，经核实",
                          "已修复或处理完毕，复查合格"), [
            ("农田灌溉设施损坏", "SLJ", "s", "d10", "灌溉 水渠 泵站 农田水利 抽水机"),
        ]),
    ]),
]

STEPS_NORMAL = {"register": (1, "work_hours"), "dispatch": (1, "work_hours"), "sign": (2, "work_hours"),
                "verify": (4, "work_hours"), "close": (2, "work_hours")}
STEPS_URGENT = {"register": (0.5, "urgent_hours"), "dispatch": (0.5, "urgent_hours"),
                "sign": (0.5, "urgent_hours"), "verify": (2, "urgent_hours"), "close": (2, "urgent_hours")}
HANDLE_UNITS = {"h": "work_hours", "d": "work_days", "n": "calendar_days", "u": "urgent_hours"}
LEVELS = {"c": "community", "s": "street", "d": "district"}


def time_limits(spec: str) -> dict[str, dict]:
    unit = HANDLE_UNITS[spec[0]]
    others = STEPS_URGENT if spec[0] == "u" else STEPS_NORMAL
    limits = {step: {"amount": a, "unit": u} for step, (a, u) in others.items()}
    limits["handle"] = {"amount": int(spec[1:]), "unit": unit}
    order = ["register", "dispatch", "sign", "handle", "verify", "close"]
    return {s: limits[s] for s in order}


def demo_items() -> list[dict]:
    """The 150 items as plain values (codes assigned in order), for the builder and the tests."""
    out = []
    for major_code, major_name, _kind, minors in CATALOG:
        for minor_code, minor_name, (reg, close), items in minors:
            for n, (name, dept, level, limit, keywords, *standards) in enumerate(items, start=1):
                self_handle = name.endswith("*")
                name = name.rstrip("*")
                reg_text, close_text = standards if standards else (reg, close)
                out.append({"code": f"{minor_code}{n:02d}", "name": name, "major_code": major_code,
                            "major_name": major_name, "category_code": minor_code, "minor_name": minor_name,
                            "department_code": dept, "handling_level": LEVELS[level],
                            "registration_standard": reg_text.format(name=name),
                            "closure_standard": close_text.format(name=name), "time_limits": time_limits(limit),
                            "keywords": keywords, "self_handle": self_handle})
    return out


def build_demo_catalog(db: Session) -> int:
    """Creates the missing demo categories and items; returns how many items it created (0 on a
    second run). Needs the 17 demo departments (gridgov.demo.service.build_demo) first."""
    departments = dict(db.execute(select(Department.code, Department.id)).all())
    needed = {i["department_code"] for i in demo_items()}
    missing = sorted(needed - set(departments))
    if missing:
        raise RuntimeError("demo departments missing (run the demo builder first): " + ", ".join(missing))
    categories = {c.code: c for c in db.scalars(select(Category))}
    existing = set(db.scalars(select(CatalogItem.code)))
    created = 0
    touched = False
    for major_code, major_name, kind, minors in CATALOG:
        major = categories.get(major_code)
        if major is None:
            major = Category(code=major_code, name=major_name, parent_id=None, kind=kind)
            db.add(major)
            db.flush()
            categories[major_code] = major
            touched = True
        for minor_code, minor_name, _standards, _items in minors:
            if minor_code not in categories:
                minor = Category(code=minor_code, name=minor_name, parent_id=major.id, kind=kind)
                db.add(minor)
                db.flush()
                categories[minor_code] = minor
                touched = True
    for spec in demo_items():
        if spec["code"] in existing:
            continue
        db.add(CatalogItem(code=spec["code"], name=spec["name"], category_id=categories[spec["category_code"]].id,
                           department_id=departments[spec["department_code"]],
                           handling_level=spec["handling_level"],
                           registration_standard=spec["registration_standard"],
                           closure_standard=spec["closure_standard"], time_limits=spec["time_limits"],
                           keywords=spec["keywords"], self_handle=spec["self_handle"], active=True))
        created += 1
    db.flush()
    if created or touched:
        from gridgov.catalog.service import _forget_suggestion_index

        _forget_suggestion_index(db)
    return created
