"""The price table: dated, sourced prices; GPU-second costs; Spot refresh against moto's EC2."""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest
from conftest import REPO
from quick_chain import moto_server

from pipeline.settings import Settings, SettingsError, build_resource
from resources.domain.costs import (
    HOSTED_APIS,
    INSTANCES,
    WITHDRAWN_APIS,
    PriceError,
    compute_record,
    hosted_cost,
    instance_price,
    refresh_spot_prices,
)

pytestmark = pytest.mark.slow  # whole-chain materializations


def test_every_price_has_a_date_and_a_source():
    for price in INSTANCES.values():
        assert price.on_demand_date and price.on_demand_source
        assert price.spot_date and price.spot_source
        assert 0 < price.spot_usd_per_hour < price.on_demand_usd_per_hour
    for hosted in HOSTED_APIS.values():
        assert hosted.date and hosted.source


def test_a_four_gpu_host_is_shared_by_its_gpus():
    host = INSTANCES["g5.12xlarge"]
    assert host.gpus == 4
    assert host.usd_per_gpu_second("on-demand") == pytest.approx(5.672 / 4 / 3600)


# The studio's own Spot figures (model-and-cost-analysis, 2025-11-17); every other type's Spot
# estimate is On-Demand less the studio's rule of thumb of 70%.
STUDIO_SPOT = {
    "g5.xlarge": 0.40,
    "g5.2xlarge": 0.60,
    "g5.12xlarge": 1.70,
    "g5.24xlarge": 2.40,
    "g5.48xlarge": 4.80,
}
STUDIO_DISCOUNT = 0.70


def test_spot_estimates_are_on_demand_less_the_studio_discount_unless_the_studio_quoted_one():
    derived = [name for name in INSTANCES if name not in STUDIO_SPOT]
    assert derived, "every type has a studio quote: nothing derived to check"
    for name in derived:
        price = INSTANCES[name]
        assert price.spot_usd_per_hour == pytest.approx(
            price.on_demand_usd_per_hour * (1 - STUDIO_DISCOUNT), abs=0.0005
        ), name
        assert "less 70%" in price.spot_source
    for name, quoted in STUDIO_SPOT.items():
        assert INSTANCES[name].spot_usd_per_hour == pytest.approx(quoted), name


@pytest.mark.parametrize("pricing", ["spot", "on-demand"])
def test_a_gpu_second_is_the_hourly_price_shared_by_the_hosts_gpus(pricing):
    for price in INSTANCES.values():
        hourly = price.spot_usd_per_hour if pricing == "spot" else price.on_demand_usd_per_hour
        assert price.usd_per_gpu_second(pricing) == pytest.approx(hourly / price.gpus / 3600)


def test_two_gpus_for_half_an_hour_on_a_four_gpu_host_cost_one_gpu_hour_of_it():
    host = INSTANCES["g5.12xlarge"]
    record = compute_record(
        "cuda:0", 1800.0, instance_type="g5.12xlarge", pricing="on-demand", gpus=2
    )
    assert record["gpu_s"] == 3600.0 and record["gpus"] == 2
    assert record["estimated_cost_usd"] == pytest.approx(host.on_demand_usd_per_hour / 4)
    assert record["usd_per_gpu_hour"] == pytest.approx(host.on_demand_usd_per_hour / 4, abs=1e-4)


def test_gpu_seconds_are_priced_per_gpu_second():
    record = compute_record("cuda:0", 3600.0, instance_type="g5.2xlarge", pricing="on-demand")
    assert record["gpu_s"] == 3600.0
    assert record["basis"] == "gpu-seconds"
    assert record["estimated_cost_usd"] == pytest.approx(1.212)


def test_cpu_seconds_are_labelled_and_not_counted_as_gpu_seconds():
    record = compute_record("cpu", 90.0)  # the defaults: g5.xlarge, Spot
    assert record["gpu_s"] == 0.0 and record["gpus"] == 0
    assert "cpu-seconds" in record["basis"] and "illustrative" in record["basis"]
    assert record["estimated_cost_usd"] == pytest.approx(90 * 0.40 / 3600)


def test_unknown_instance_type_names_itself():
    with pytest.raises(PriceError, match="p9.huge"):
        instance_price("p9.huge")


def test_an_unknown_pricing_mode_names_itself():
    with pytest.raises(PriceError, match="reserved"):
        compute_record("cuda:0", 1.0, pricing="reserved")


def test_settings_read_the_instance_type_and_pricing_mode_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHARACTER_VIDEO_INSTANCE_TYPE", "g5.2xlarge")
    monkeypatch.setenv("CHARACTER_VIDEO_PRICING", "on-demand")
    store = build_resource("model_store", Settings.from_env())
    assert (store.instance_type, store.pricing) == ("g5.2xlarge", "on-demand")
    monkeypatch.setenv("CHARACTER_VIDEO_PRICING", "reserved")
    with pytest.raises(SettingsError, match="CHARACTER_VIDEO_PRICING='reserved'"):
        Settings.from_env()


def test_work_on_an_unpriced_instance_keeps_its_seconds_without_a_cost():
    record = compute_record("cuda:0", 42.0, instance_type="p9.huge")
    assert record["gpu_s"] == 42.0
    assert record["estimated_cost_usd"] is None
    assert "p9.huge" in record["basis"]


def test_a_minute_of_veo_3_1_lite_at_1080p_costs_four_dollars_eighty():
    assert hosted_cost(60.0)["veo-3.1-lite-1080p"] == pytest.approx(4.80)
    assert hosted_cost(60.0)["veo-3.1-standard"] == pytest.approx(24.0)
    assert HOSTED_APIS["ltx-2.3-hosted"].usd_per_minute == pytest.approx(2.16)
    assert not HOSTED_APIS["runway-gen4-turbo"].sound
    assert "2026-09-24" in WITHDRAWN_APIS["sora-2"] and "sora-2" not in HOSTED_APIS


@pytest.fixture(scope="module")
def ec2_endpoint():
    with moto_server() as endpoint:
        yield endpoint


def test_spot_prices_refresh_from_the_ec2_price_history(ec2_endpoint):
    client = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=ec2_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    refreshed = refresh_spot_prices(client, ["g5.xlarge", "g5.12xlarge"])
    # moto's Spot price history answers every offering with a price of $0.00001.
    assert refreshed["g5.xlarge"].spot_usd_per_hour == pytest.approx(0.00001)
    assert refreshed["g5.12xlarge"].spot_usd_per_hour == pytest.approx(0.00001)
    assert refreshed["g5.xlarge"].spot_source.startswith("EC2 Spot price history, us-east-1")
    assert refreshed["g5.xlarge"].spot_date == "2006-01-02"
    # Types not asked for keep the table's estimate; the table itself is untouched.
    assert refreshed["g5.2xlarge"] == INSTANCES["g5.2xlarge"]
    assert INSTANCES["g5.xlarge"].spot_usd_per_hour == pytest.approx(0.40)


def test_prices_command_prints_the_refreshed_table(ec2_endpoint):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "prices", "--refresh", "--region", "us-east-1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_ENDPOINT_URL_EC2": ec2_endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        },
    )
    assert done.returncode == 0, done.stderr
    line = next(row for row in done.stdout.splitlines() if row.startswith("g5.xlarge "))
    assert "0.0000" in line and "EC2 Spot price history" in line
