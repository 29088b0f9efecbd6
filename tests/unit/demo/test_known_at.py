import pandas as pd

from risk_engine.demo.known import as_known_at


def test_the_platform_known_at_an_instant_holds_nothing_from_after_it(platform):
    cut = platform.observed_until - pd.Timedelta(days=40)
    known = as_known_at(platform, cut)
    for name, frame in known.tables().items():
        if "recorded_at" in frame:
            assert (frame["recorded_at"] < cut).all(), name
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                assert not (frame[column] >= cut).any(), (name, column)
    orders = known.orders
    assert set(orders.loc[orders["delivered_at"].isna(), "status"]) <= {"placed", "confirmed", "shipped",
                                                                        "cancelled"}
    assert (orders.loc[orders["cancelled_at"].notna(), "status"] == "cancelled").all()
    before = platform.payments[platform.payments["recorded_at"] < cut]
    assert known.payments["paid_on"].isna().sum() > before["paid_on"].isna().sum()  # paid later: unpaid now
    assert known.observed_until == cut
