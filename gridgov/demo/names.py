"""Generated names for demo people and places: plausible, never real people."""

from __future__ import annotations

import random

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任"
            "沈姚卢姜崔钟谭陆汪范廖石金贾夏韦付方邹熊白孟秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万覃武钱戴严欧莫孔")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲兰辉建国志斌波宇浩凯健俊帆鹏飞鑫颖"
         "婷雪琳晨欣怡佳慧梓涵子轩若曦雨桐思远嘉文博雅欢蕾诗琪宏海燕春梅松林德福寿荣昌民生湘株淞")
PLACE_STEMS = ["建设", "新华", "和平", "人民", "胜利", "光明", "红旗", "东风", "向阳", "金山", "银海", "桂花", "荷塘", "樟树", "杉木", "凤凰", "湘江", "长塘", "五里", "南塘", "清水", "太阳", "月塘", "石峰", "丹桂", "枫林", "龙泉", "庆云", "建宁", "董家", "贺家", "白关", "曲尺", "钻石", "新桥", "株洲", "云田", "铁西", "铁东", "红港", "金钩", "芦淞", "湘水", "栗雨", "桐梓", "杨梅", "大塘", "枫溪", "黄泥", "狮子", "双牌", "丝茅", "花园", "星光", "园艺", "文化", "兴隆", "永兴", "合心", "新塘", "泉塘", "竹山", "柏树", "松柏", "茶园", "万丰", "宏达", "锦绣", "安居", "幸福", "团结", "友谊", "东湖", "西湖", "南岭", "北岭", "上塘", "下塘", "石塘", "洪塘", "金桥", "玉泉", "长青", "晓园", "九方", "美景"]


class NameMaker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7919)

    def next(self) -> str:
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given


def community_names(rng: random.Random, n: int) -> list[str]:
    stems = list(PLACE_STEMS)
    if n > len(stems):
        raise ValueError(f"only {len(stems)} community names available")
    rng.shuffle(stems)
    return stems[:n]
