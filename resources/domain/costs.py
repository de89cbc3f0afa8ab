"""The price table: what a GPU-second costs on AWS G5, and what hosted video APIs charge.

This is the one place prices live; assets, the client report, docs/costs.md and the benchmarks
read them from here. Every price carries the date it was taken and its source. Spot prices move
with supply and demand: `refresh_spot_prices` replaces the studio's estimates with the newest
prices from the EC2 Spot price history (boto3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DEFAULT_INSTANCE_TYPE = "g5.xlarge"
DEFAULT_REGION = "us-east-1"
PRICING_MODES = ("spot", "on-demand")

ON_DEMAND_SOURCE = "AWS EC2 On-Demand pricing, Linux, us-east-1 (aws.amazon.com/ec2/pricing)"
ON_DEMAND_DATE = "2025-11-17"
STUDIO_SPOT_SOURCE = "studio estimate (model-and-cost-analysis, 2025-11-17); not a quote"
SPOT_DISCOUNT_ESTIMATE = 0.70  # the studio's rule of thumb: Spot ~70% below On-Demand


@dataclass(frozen=True)
class InstancePrice:
    """One EC2 instance type: its GPUs and what an hour of it costs."""

    instance_type: str
    gpu: str
    gpus: int
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float
    on_demand_source: str
    on_demand_date: str
    spot_source: str
    spot_date: str

    def usd_per_hour(self, pricing: str = "spot") -> float:
        if pricing == "spot":
            return self.spot_usd_per_hour
        if pricing == "on-demand":
            return self.on_demand_usd_per_hour
        raise ValueError(f"pricing {pricing!r} is not 'spot' or 'on-demand'")

    def usd_per_gpu_second(self, pricing: str = "spot") -> float:
        """An instance's hourly price shared evenly by its GPUs (one worker per GPU)."""
        return self.usd_per_hour(pricing) / self.gpus / 3600.0


def _gpu_host(
    instance_type: str, gpus: int, on_demand: float, spot: float | None = None, gpu: str = ""
):
    spot_price = spot if spot is not None else round(on_demand * (1 - SPOT_DISCOUNT_ESTIMATE), 3)
    derived = f"{STUDIO_SPOT_SOURCE}: On-Demand less {SPOT_DISCOUNT_ESTIMATE:.0%}"
    return InstancePrice(
        instance_type=instance_type,
        gpu=gpu or "NVIDIA A10G 24 GB",
        gpus=gpus,
        on_demand_usd_per_hour=on_demand,
        spot_usd_per_hour=spot_price,
        on_demand_source=ON_DEMAND_SOURCE,
        on_demand_date=ON_DEMAND_DATE,
        spot_source=STUDIO_SPOT_SOURCE if spot is not None else derived,
        spot_date=ON_DEMAND_DATE,
    )


# On-Demand: AWS list prices (us-east-1, Linux). Spot: the studio's own figures where it gave
# one (g5.xlarge $0.40, g5.2xlarge $0.60, g5.12xlarge $1.70, g5.24xlarge $2.40, g5.48xlarge
# $4.80), else On-Demand less the studio's 70%. The g6 (L4) hosts are in the Spot pools the
# AWS deployment uses. Refresh before quoting a client.
L4 = "NVIDIA L4 24 GB"
INSTANCES: dict[str, InstancePrice] = {
    p.instance_type: p
    for p in (
        _gpu_host("g5.xlarge", 1, 1.006, 0.40),
        _gpu_host("g5.2xlarge", 1, 1.212, 0.60),
        _gpu_host("g5.4xlarge", 1, 1.624),
        _gpu_host("g5.8xlarge", 1, 2.448),
        _gpu_host("g5.12xlarge", 4, 5.672, 1.70),
        _gpu_host("g5.16xlarge", 1, 4.096),
        _gpu_host("g5.24xlarge", 4, 8.144, 2.40),
        _gpu_host("g5.48xlarge", 8, 16.288, 4.80),
        _gpu_host("g6.xlarge", 1, 0.805, gpu=L4),
        _gpu_host("g6.2xlarge", 1, 0.978, gpu=L4),
        _gpu_host("g6.12xlarge", 4, 4.602, gpu=L4),
    )
}


@dataclass(frozen=True)
class HostedVideoPrice:
    """A hosted text-to-video API the studio compares itself with, per second of output."""

    name: str
    resolution: str
    usd_per_second: float
    source: str
    date: str
    sound: bool = True  # the price includes a generated sound track

    @property
    def usd_per_minute(self) -> float:
        return self.usd_per_second * 60.0


# Prices as gathered in late 2026 (shared/reference/models-and-sound-2026.md; each source named).
GOOGLE_SOURCE = "Gemini API pricing (ai.google.dev/gemini-api/docs/pricing), Veo 3.1, with audio"
RUNWAY_SOURCE = "Runway API pricing (docs.dev.runwayml.com), gen4_turbo 5 credits/s at $0.01"
RESELLER_SOURCE = "reseller price (no first-party API price published), read 2026-11"
HOSTED_APIS: dict[str, HostedVideoPrice] = {
    h.name: h
    for h in (
        HostedVideoPrice("veo-3.1-lite-720p", "1280x720", 0.05, GOOGLE_SOURCE, "2026-03"),
        HostedVideoPrice("veo-3.1-lite-1080p", "1920x1080", 0.08, GOOGLE_SOURCE, "2026-03"),
        HostedVideoPrice("veo-3.1-standard", "1920x1080", 0.40, GOOGLE_SOURCE, "2026-03"),
        HostedVideoPrice(
            "runway-gen4-turbo", "1280x720", 0.05, RUNWAY_SOURCE, "2026-11", sound=False
        ),
        HostedVideoPrice(
            "kling-3.0", "1920x1080", 0.15, f"Kling 3.0 with audio, {RESELLER_SOURCE}", "2026-11"
        ),
        # $2.16 per minute: about $0.18 per 5 s.
        HostedVideoPrice(
            "ltx-2.3-hosted", "1920x1080", 0.036, f"LTX-2.3, {RESELLER_SOURCE}", "2026-11"
        ),
    )
}
# Compared in quotes and the client report: the cheapest hosted tier with sound at the
# delivery's 1080p, and the standard tier of the same model.
COMPARED_WITH = ("veo-3.1-lite-1080p", "veo-3.1-standard")
# APIs the studio compared with before, and why no longer.
WITHDRAWN_APIS = {
    "sora-2": "OpenAI removed Sora 2 and Sora 2 Pro from its API on 2026-09-24",
}


class PriceError(ValueError):
    """An instance type or pricing mode the table does not know."""


def instance_price(instance_type: str = DEFAULT_INSTANCE_TYPE) -> InstancePrice:
    """The price of `instance_type` (pipeline.settings says which one a run is on)."""
    try:
        return INSTANCES[instance_type]
    except KeyError:
        known = ", ".join(INSTANCES)
        raise PriceError(f"instance type {instance_type!r} has no price; known: {known}") from None


def check_pricing(pricing: str) -> str:
    """`pricing` itself, or a PriceError naming it when it is neither mode."""
    if pricing not in PRICING_MODES:
        raise PriceError(f"pricing {pricing!r} is not 'spot' or 'on-demand'")
    return pricing


def compute_record(
    device: str,
    seconds: float,
    *,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    pricing: str = "spot",
    gpus: int = 1,
) -> dict[str, Any]:
    """What a manifest says of the compute an artifact used and what it cost (an estimate).

    `instance_type` and `pricing` describe the host the work ran on (pipeline.settings reads
    them from the environment when a run starts). On a CUDA device the seconds are
    GPU-seconds. On the CPU (the tiny profile) they are CPU seconds: the record says so, keeps
    `gpu_s` at 0 and prices the seconds "as if" they had been GPU-seconds, which shows the
    arithmetic but is not a real cost.
    """
    mode = check_pricing(pricing)
    on_gpu = device.startswith("cuda")
    gpu_s = seconds * gpus if on_gpu else 0.0
    billed_s = gpu_s if on_gpu else seconds
    try:
        price = instance_price(instance_type)
    except PriceError as error:
        # Finished work is never failed for want of a price: record the seconds, no cost.
        return {
            "device": device,
            "gpus": gpus if on_gpu else 0,
            "seconds": round(seconds, 3),
            "gpu_s": round(gpu_s, 3),
            "basis": f"unpriced: {error}",
            "instance_type": instance_type,
            "pricing": mode,
            "usd_per_gpu_hour": None,
            "price_date": "",
            "estimated_cost_usd": None,
        }
    return {
        "device": device,
        "gpus": gpus if on_gpu else 0,
        "seconds": round(seconds, 3),
        "gpu_s": round(gpu_s, 3),
        "basis": "gpu-seconds" if on_gpu else "cpu-seconds priced as gpu-seconds (illustrative)",
        "instance_type": price.instance_type,
        "pricing": mode,
        "usd_per_gpu_hour": round(price.usd_per_gpu_second(mode) * 3600, 4),
        "price_date": price.spot_date if mode == "spot" else price.on_demand_date,
        "estimated_cost_usd": round(billed_s * price.usd_per_gpu_second(mode), 6),
    }


def hosted_cost(seconds_of_video: float) -> dict[str, float]:
    """What the compared hosted APIs would charge for this many seconds of output video."""
    return {name: HOSTED_APIS[name].usd_per_second * seconds_of_video for name in COMPARED_WITH}


def refresh_spot_prices(
    ec2_client: Any, instance_types: Iterable[str] | None = None
) -> dict[str, InstancePrice]:
    """The table with Spot prices replaced by the newest EC2 Spot price history entries.

    Takes the lowest current price across availability zones (what price-capacity-optimized
    allocation tends to get); types without history keep their estimate. `INSTANCES` itself is
    not changed.
    """
    wanted = list(instance_types or INSTANCES)
    newest: dict[tuple[str, str], tuple[Any, float]] = {}
    paginator = ec2_client.get_paginator("describe_spot_price_history")
    pages = paginator.paginate(
        InstanceTypes=wanted,
        ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
        StartTime=_utcnow(),
    )
    for page in pages:
        for item in page.get("SpotPriceHistory", []):
            key = (item["InstanceType"], item["AvailabilityZone"])
            stamp, price = item["Timestamp"], float(item["SpotPrice"])
            if key not in newest or stamp > newest[key][0]:
                newest[key] = (stamp, price)
    region = ec2_client.meta.region_name
    refreshed = dict(INSTANCES)
    for name in wanted:
        zones = [(stamp, price) for (kind, _), (stamp, price) in newest.items() if kind == name]
        if name not in INSTANCES or not zones:
            continue
        stamp, price = min(zones, key=lambda z: z[1])
        refreshed[name] = dataclasses.replace(
            INSTANCES[name],
            spot_usd_per_hour=price,
            spot_source=f"EC2 Spot price history, {region}, lowest zone (boto3)",
            spot_date=stamp.date().isoformat() if hasattr(stamp, "date") else str(stamp)[:10],
        )
    return refreshed


def _utcnow():
    import datetime as dt

    return dt.datetime.now(dt.UTC)
