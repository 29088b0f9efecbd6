"""Reference data the synthetic platform draws from: industries, provinces, names, holidays.

Figures are plausible orders of magnitude for Chinese B2B distribution, not statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True)
class Industry:
    code: str
    zh: str
    share: float  # of dealers
    median_order_yuan: float  # typical purchase order
    vat_rate: float  # VAT on goods: 13 %, agricultural inputs 9 %
    payment_terms_days: tuple[int, ...]  # trade credit the suppliers grant
    season: tuple[float, ...]  # January..December, before the Chinese New Year effect
    new_year_stocking: float  # extra buying in the ~5 weeks before the Spring Festival
    supplier_zh: str  # word for the supplier's trade in its name


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "building_materials",
        "建材",
        0.22,
        42_000,
        0.13,
        (45, 60, 90),
        (0.80, 0.75, 1.00, 1.10, 1.10, 1.00, 0.90, 0.90, 1.15, 1.20, 1.10, 0.95),
        1.00,
        "建材",
    ),
    Industry(
        "food_beverage",
        "食品饮料",
        0.24,
        18_000,
        0.13,
        (15, 30, 45),
        (1.05, 1.00, 0.95, 0.95, 0.95, 1.00, 1.00, 1.00, 1.15, 1.05, 0.95, 1.05),
        1.45,
        "食品",
    ),
    Industry(
        "home_appliances",
        "家电",
        0.14,
        36_000,
        0.13,
        (30, 45, 60),
        (1.00, 0.90, 0.90, 0.95, 1.05, 1.25, 1.00, 0.95, 1.00, 1.10, 1.30, 0.95),
        1.20,
        "电器",
    ),
    Industry(
        "auto_parts",
        "汽车配件",
        0.14,
        25_000,
        0.13,
        (30, 60, 90),
        (1.00, 0.95, 1.00, 1.00, 1.00, 1.00, 0.95, 0.95, 1.00, 1.05, 1.05, 1.05),
        1.10,
        "汽配",
    ),
    Industry(
        "agricultural_inputs",
        "农资",
        0.14,
        30_000,
        0.09,
        (30, 60, 120),
        (0.85, 1.20, 1.50, 1.40, 1.00, 0.90, 0.70, 0.80, 1.00, 1.20, 0.80, 0.65),
        1.05,
        "农资",
    ),
    Industry(
        "pharmaceuticals",
        "医药",
        0.12,
        22_000,
        0.13,
        (60, 90, 120),
        (1.10, 0.95, 1.00, 0.95, 0.95, 0.95, 0.95, 0.95, 1.00, 1.00, 1.05, 1.15),
        1.05,
        "医药",
    ),
)


@dataclass(frozen=True)
class Province:
    zh: str
    share: float  # of dealers, roughly by commercial activity
    cities: tuple[tuple[str, int], ...]  # (city and district, 6-digit division code)


PROVINCES: tuple[Province, ...] = (
    Province("广东省", 0.14, (("广州市天河区", 440106), ("深圳市南山区", 440305), ("佛山市顺德区", 440606))),
    Province("江苏省", 0.11, (("南京市玄武区", 320102), ("苏州市姑苏区", 320508))),
    Province("浙江省", 0.10, (("杭州市西湖区", 330106), ("宁波市鄞州区", 330212))),
    Province("山东省", 0.09, (("济南市历下区", 370102), ("青岛市市南区", 370202))),
    Province("河南省", 0.07, (("郑州市金水区", 410105),)),
    Province("四川省", 0.07, (("成都市武侯区", 510107),)),
    Province("湖北省", 0.06, (("武汉市武昌区", 420106),)),
    Province("福建省", 0.06, (("厦门市思明区", 350203), ("福州市鼓楼区", 350102))),
    Province("湖南省", 0.05, (("长沙市岳麓区", 430104),)),
    Province("上海市", 0.05, (("上海市浦东新区", 310115),)),
    Province("安徽省", 0.04, (("合肥市蜀山区", 340104),)),
    Province("河北省", 0.04, (("石家庄市长安区", 130102),)),
    Province("北京市", 0.04, (("北京市朝阳区", 110105),)),
    Province("重庆市", 0.03, (("重庆市渝中区", 500103),)),
    Province("陕西省", 0.03, (("西安市雁塔区", 610113),)),
    Province("江西省", 0.02, (("南昌市东湖区", 360102),)),
)

SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN_NAME_CHARS = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志红文玉兰晨宇浩然欣怡子轩梓涵嘉豪俊峰海燕"
)
BRAND_CHARS = tuple("恒达鑫盛隆兴丰源泰和顺信通宏德利安聚汇邦诚联创鼎昌富华瑞祥佳润")
STREETS = tuple(
    ["人民路", "建设路", "解放路", "中山路", "新华路", "长江路", "黄河路", "工业大道", "创业路", "滨江路"]
)
MOBILE_PREFIXES = (
    130,
    131,
    132,
    135,
    136,
    137,
    138,
    139,
    150,
    151,
    152,
    158,
    159,
    166,
    177,
    180,
    181,
    186,
    187,
    188,
    189,
    191,
    199,
)

# Spring Festival (春节) dates: the platform's biggest seasonal dip moves between January and February.
SPRING_FESTIVAL = {
    2016: date(2016, 2, 8),
    2017: date(2017, 1, 28),
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}


def spring_festival(year: int) -> date:
    return SPRING_FESTIVAL.get(year, date(year, 2, 1))


def daily_activity(industry: Industry, first_day: int, end_day: int) -> np.ndarray:
    """Relative purchasing activity of one industry on each CST day in [first_day, end_day).

    The calendar-month profile is modulated day by day around the Spring Festival: a stocking-up
    period before it, near standstill in the holiday fortnight and a slow restart afterwards.
    """
    days = np.arange(first_day, end_day).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int64) % 12
    factor = np.asarray(industry.season)[months]
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    for year in range(int(years.min()) - 1, int(years.max()) + 2):
        offset = (days - np.datetime64(spring_festival(year), "D")).astype(np.int64)
        factor = np.where((offset >= -40) & (offset < -7), factor * industry.new_year_stocking, factor)
        factor = np.where((offset >= -7) & (offset < 8), factor * 0.15, factor)
        factor = np.where((offset >= 8) & (offset < 20), factor * 0.6, factor)
    return factor
