"""Run-time settings: the one module that reads the environment, and the resources it configures.

Importing the code location reads nothing from the environment: `code_location_resources` binds
each resource key to a definition that reads `Settings.from_env()` when a run (or a sensor or
schedule tick) initializes it, so the Definitions are the same in every shell. The CLI and tests
build resources directly with `resource_defs`, from arguments or else the environment.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.spot import on_demand_after, placement_tags
from resources.domain.costs import DEFAULT_INSTANCE_TYPE, PRICING_MODES
from resources.domain.licences import REVENUE_BANDS, StudioFacts
from resources.domain.placement import DEFAULT_CLUSTER
from resources.domain.render import render_setting_problems

if TYPE_CHECKING:
    from dagster import ResourceDefinition

ENV_ROOT = "CHARACTER_VIDEO_ROOT"  # artifact root (default ./artifacts)
ENV_PROFILE = "CHARACTER_VIDEO_PROFILE"  # tiny | production
ENV_INBOX = "CHARACTER_VIDEO_INBOX"  # folder(s) or s3://bucket/prefix/, ":"-separated
ENV_MODELS = "CHARACTER_VIDEO_MODELS"  # model folder (default <root>/_models)
ENV_CACHE = "CHARACTER_VIDEO_CACHE"  # local working copy of an s3:// root
ENV_SPOT = "CHARACTER_VIDEO_SPOT_MONITOR"  # 1: poll IMDS for Spot notices (set on AWS)
ENV_SPOT_POLL = "CHARACTER_VIDEO_SPOT_POLL_S"  # seconds between polls (default 5)
ENV_CLUSTER = "CHARACTER_VIDEO_ECS_CLUSTER"  # cluster and capacity-provider prefix of GPU runs
ENV_ON_DEMAND = "CHARACTER_VIDEO_ON_DEMAND_FALLBACK"  # 1: terraform deployed on-demand twins
ENV_INSTANCE_TYPE = "CHARACTER_VIDEO_INSTANCE_TYPE"  # the instance a run is priced on
ENV_PRICING = "CHARACTER_VIDEO_PRICING"  # spot | on-demand
ENV_IMDS = "AWS_EC2_METADATA_SERVICE_ENDPOINT"  # botocore's override of the IMDS endpoint
ENV_REGION = "AWS_REGION"
ENV_DAGSTER_HOME = "DAGSTER_HOME"
INSTANCE_FOLDER = "_dagster"  # under the artifact root: the instance when DAGSTER_HOME is unset
ENV_LORA_BACKEND = "CHARACTER_VIDEO_LORA_BACKEND"  # peft (default) | kohya
ENV_KOHYA_CHECKOUT = "CHARACTER_VIDEO_KOHYA_CHECKOUT"  # musubi-tuner folder (default $MUSUBI_TUNER)
ENV_KOHYA_PYTHON = "CHARACTER_VIDEO_KOHYA_PYTHON"  # its interpreter (default <checkout>/.venv)
ENV_VOICE_PYTHON = "CHARACTER_VIDEO_VOICE_PYTHON"  # the voice environment (default ./.venv-voice)
ENV_KOHYA_MODELS = "CHARACTER_VIDEO_KOHYA_MODELS"  # JSON object: musubi weights by flag
ENV_MUSUBI_TUNER = "MUSUBI_TUNER"  # where deploy/Dockerfile checks musubi-tuner out
ENV_REVIEW_TOKEN = "CHARACTER_VIDEO_REVIEW_TOKEN"  # required when the review app leaves loopback
ENV_CLIENT_LINK_SECRET = "CHARACTER_VIDEO_CLIENT_LINK_SECRET"  # signs clients' review links
ENV_REVIEW_URL = "CHARACTER_VIDEO_REVIEW_URL"  # where producers reach the app (metadata links)
# Slack-compatible webhook told when a run finishes, fails or waits (resources/runtime/notify.py).
ENV_WEBHOOK_URL = "CHARACTER_VIDEO_WEBHOOK_URL"
# Host names the review app answers to beyond loopback (comma-separated): a request naming any
# other host (a DNS-rebinding page) is refused.
ENV_REVIEW_HOSTS = "CHARACTER_VIDEO_REVIEW_HOSTS"
ENV_TIMEZONE = "CHARACTER_VIDEO_TIMEZONE"  # the producers' time zone (default America/Sao_Paulo)
ENV_LANGUAGE = "CHARACTER_VIDEO_LANGUAGE"  # pt-BR | en: the review app's default language
ENV_PRESIGN_S = "CHARACTER_VIDEO_PRESIGN_EXPIRY_S"  # life of presigned S3 links (default 3600)
# The video generator's encoder and kernels (resources/video/generator.py VideoGenerator); a run's
# config (resources: video_generator: config:) overrides them for that run.
ENV_CRF = "CHARACTER_VIDEO_ENCODER_CRF"  # libx264 quality, 0..51 (default 18)
ENV_PRESET = "CHARACTER_VIDEO_ENCODER_PRESET"  # libx264 preset (default medium)
ENV_WORKERS = "CHARACTER_VIDEO_RENDER_WORKERS"  # 0: one per GPU (default)
ENV_ATTENTION = "CHARACTER_VIDEO_ATTENTION"  # auto | flash | native
ENV_FIRST_BLOCK_CACHE = "CHARACTER_VIDEO_FIRST_BLOCK_CACHE"  # threshold; 0 = off (default)
RENDER_FIELDS = {
    "crf": ENV_CRF,
    "preset": ENV_PRESET,
    "workers": ENV_WORKERS,
    "attention": ENV_ATTENTION,
    "first_block_cache": ENV_FIRST_BLOCK_CACHE,
}
# The studio's facts that model licences are checked against (resources/domain/licences.py):
# where it operates and where its clients show the deliverables (ISO 3166-1 alpha-2 codes), its
# annual revenue band and whether its work is paid (docs/operations.md, "Licences").
ENV_COUNTRY = "CHARACTER_VIDEO_COUNTRY"  # default BR
ENV_AUDIENCE = "CHARACTER_VIDEO_AUDIENCE"  # comma-separated, default BR
ENV_REVENUE_BAND = "CHARACTER_VIDEO_REVENUE_BAND"  # under_1m | 1m_10m | over_10m (unset: unknown)
ENV_PAID_WORK = "CHARACTER_VIDEO_PAID_WORK"  # 1 (default): client work is paid; 0: it is not
LICENCE_FACTS = {
    "country": ENV_COUNTRY,
    "audiences": ENV_AUDIENCE,
    "revenue_band": ENV_REVENUE_BAND,
    "paid_work": ENV_PAID_WORK,
}
# Where each fact was declared, as a licence refusal names it.
LICENCE_FACTS_WHERE = {fact: f"settings {var}" for fact, var in LICENCE_FACTS.items()}
# How the CLI's `run` and the review app start the chain: `process` (in a local process) or
# `instance` (queued on the DAGSTER_HOME instance: the daemon and its run launcher start it).
ENV_LAUNCH = "CHARACTER_VIDEO_LAUNCH"
LAUNCH_MODES = ("process", "instance")
LANGUAGES = ("pt-BR", "en")
PROFILES = ("tiny", "production")
LORA_BACKENDS = ("peft", "kohya")


class SettingsError(ValueError):
    """An environment variable whose value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the deployment decides, with the defaults of a laptop checkout."""

    root: str = "artifacts"  # a folder, or s3://bucket/prefix
    profile: str = "tiny"
    inbox: tuple[str, ...] = ("examples",)
    models_dir: str | None = None  # default <root>/_models (<cache>/_models for an S3 root)
    cache_dir: str = "artifacts-cache"
    spot_monitor: bool = False
    spot_poll_s: float = 5.0
    on_demand_fallback: bool = False
    ecs_cluster: str = DEFAULT_CLUSTER
    instance_type: str = DEFAULT_INSTANCE_TYPE
    pricing: str = "spot"
    imds_endpoint: str | None = None
    aws_region: str = "us-east-1"
    dagster_home: str | None = None
    lora_backend: str = "peft"  # which resource trains the LoRA: peft or kohya (musubi-tuner)
    kohya_checkout: str = ""
    kohya_python: str = ""  # default: <checkout>/.venv/bin/python when present
    voice_python: str = ""  # default: the repository's .venv-voice/bin/python
    kohya_models: dict[str, str] = field(default_factory=dict)  # musubi weights by flag
    review_token: str | None = None
    client_link_secret: str | None = None  # None: no client review links
    review_url: str | None = None
    webhook_url: str | None = None
    review_hosts: tuple[str, ...] = ()
    timezone: str = "America/Sao_Paulo"
    language: str = "pt-BR"
    presign_expiry_s: int = 3600
    launch: str = "process"
    crf: int = 18
    preset: str = "medium"
    workers: int = 0
    attention: str = "auto"
    first_block_cache: float = 0.0
    country: str = "BR"
    audiences: tuple[str, ...] = ("BR",)
    revenue_band: str = ""  # "": not declared (a revenue condition is warned about, not refused)
    paid_work: bool = True

    def __post_init__(self) -> None:
        self._check_licence_facts()
        problems = render_setting_problems(**self.render())
        if problems:
            field_name = problems[0].split("=", 1)[0]
            raise SettingsError(f"{RENDER_FIELDS[field_name]}: {problems[0]}")
        if self.language not in LANGUAGES:
            raise SettingsError(f"{ENV_LANGUAGE}={self.language!r} is not one of pt-BR, en")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except (ValueError, KeyError, OSError):
            raise SettingsError(
                f"{ENV_TIMEZONE}={self.timezone!r} is not a known time zone"
            ) from None
        if not 60 <= self.presign_expiry_s <= 7 * 24 * 3600:  # S3's SigV4 limit is 7 days
            raise SettingsError(f"{ENV_PRESIGN_S}={self.presign_expiry_s} must be 60..604800 s")
        if self.launch not in LAUNCH_MODES:
            raise SettingsError(
                f"{ENV_LAUNCH}={self.launch!r} is not one of {', '.join(LAUNCH_MODES)}"
            )
        if self.profile not in PROFILES:
            raise SettingsError(f"profile {self.profile!r} is not one of {', '.join(PROFILES)}")
        if self.pricing not in PRICING_MODES:
            raise SettingsError(f"{ENV_PRICING}={self.pricing!r} is not 'spot' or 'on-demand'")
        if self.lora_backend not in LORA_BACKENDS:
            raise SettingsError(
                f"{ENV_LORA_BACKEND}={self.lora_backend!r} is not one of {', '.join(LORA_BACKENDS)}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of this process (or of `environ`); unset variables keep the defaults."""
        env = os.environ if environ is None else environ
        default = cls()
        poll = env.get(ENV_SPOT_POLL, "")
        try:
            poll_s = float(poll) if poll else default.spot_poll_s
        except ValueError:
            raise SettingsError(f"{ENV_SPOT_POLL}={poll!r} is not a number of seconds") from None
        inbox = env.get(ENV_INBOX)
        host = ("", "")
        named = env.get(ENV_INSTANCE_TYPE) and env.get(ENV_PRICING)
        if env.get(ENV_SPOT, "0") == "1" and not named:  # a run's GPU host on AWS
            host = run_host(env.get(ENV_IMDS) or None)
        presign = env.get(ENV_PRESIGN_S, "")
        if presign and not presign.isdigit():
            raise SettingsError(f"{ENV_PRESIGN_S}={presign!r} is not a number of seconds")
        return cls(
            root=env.get(ENV_ROOT) or default.root,
            profile=env.get(ENV_PROFILE) or default.profile,
            # ":" separates entries, except the one in "s3://".
            inbox=tuple(re.split(r":(?!//)", inbox)) if inbox else default.inbox,
            models_dir=env.get(ENV_MODELS) or None,
            cache_dir=env.get(ENV_CACHE) or default.cache_dir,
            spot_monitor=env.get(ENV_SPOT, "0") == "1",
            spot_poll_s=poll_s,
            on_demand_fallback=env.get(ENV_ON_DEMAND, "0") == "1",
            ecs_cluster=env.get(ENV_CLUSTER) or default.ecs_cluster,
            instance_type=env.get(ENV_INSTANCE_TYPE) or host[0] or default.instance_type,
            pricing=env.get(ENV_PRICING) or host[1] or default.pricing,
            imds_endpoint=env.get(ENV_IMDS) or None,
            aws_region=env.get(ENV_REGION) or default.aws_region,
            dagster_home=env.get(ENV_DAGSTER_HOME) or None,
            lora_backend=env.get(ENV_LORA_BACKEND) or default.lora_backend,
            kohya_checkout=env.get(ENV_KOHYA_CHECKOUT) or env.get(ENV_MUSUBI_TUNER) or "",
            kohya_python=env.get(ENV_KOHYA_PYTHON) or "",
            voice_python=env.get(ENV_VOICE_PYTHON) or "",
            kohya_models=_flags_to_paths(env.get(ENV_KOHYA_MODELS) or "{}"),
            review_token=env.get(ENV_REVIEW_TOKEN) or None,
            client_link_secret=env.get(ENV_CLIENT_LINK_SECRET) or None,
            review_url=(env.get(ENV_REVIEW_URL) or "").rstrip("/") or None,
            webhook_url=_webhook_url(env.get(ENV_WEBHOOK_URL) or ""),
            review_hosts=tuple(
                h.strip().lower() for h in (env.get(ENV_REVIEW_HOSTS) or "").split(",") if h.strip()
            ),
            timezone=env.get(ENV_TIMEZONE) or default.timezone,
            language=env.get(ENV_LANGUAGE) or default.language,
            presign_expiry_s=int(presign) if presign else default.presign_expiry_s,
            launch=env.get(ENV_LAUNCH) or default.launch,
            **_render_from_env(env),
            **_licence_facts_from_env(env),
        )

    def _check_licence_facts(self) -> None:
        codes = [(ENV_COUNTRY, self.country)] + [(ENV_AUDIENCE, a) for a in self.audiences]
        for var, code in codes:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise SettingsError(f"{var}: {code!r} is not an ISO 3166-1 alpha-2 code (BR, PT)")
        if not self.audiences:
            raise SettingsError(f"{ENV_AUDIENCE}: name at least one country (default BR)")
        if self.revenue_band and self.revenue_band not in REVENUE_BANDS:
            raise SettingsError(
                f"{ENV_REVENUE_BAND}={self.revenue_band!r} is not one of {', '.join(REVENUE_BANDS)}"
            )

    def studio_facts(self) -> StudioFacts:
        """The facts licences are checked against (validate, quote)."""
        return StudioFacts(
            country=self.country,
            audiences=self.audiences,
            revenue_band=self.revenue_band or None,  # type: ignore[arg-type]
            paid_work=self.paid_work,
        )

    def render(self) -> dict[str, Any]:
        """The video generator's settings: encoder quality and preset, workers, kernels."""
        return {name: getattr(self, name) for name in RENDER_FIELDS}

    @property
    def flop_cache(self) -> Path | None:
        """Where quotes keep the FLOP counts they make: the model folder's `_flops`, else the work
        root's `_models/_flops` when that root exists; otherwise nowhere (a quote run in any folder
        writes nothing there: the committed counts cover the examples, the rest are counted in
        memory)."""
        if self.models_dir:
            return Path(self.models_dir) / "_flops"
        if self.work_root.is_dir():
            return self.work_root / "_models" / "_flops"
        return None

    @property
    def work_root(self) -> Path:
        """The local folder work happens in: the root itself, or the cache of an S3 root."""
        if self.root.startswith("s3://"):
            return Path(self.cache_dir).resolve()
        return Path(self.root).resolve()

    @property
    def instance_home(self) -> Path | None:
        """The Dagster instance every launcher records runs in: DAGSTER_HOME, else the one kept
        beside the artifacts (`<work root>/_dagster`, made by `make dev` for its UI), so a chain
        run from the CLI or the review app shows in that UI as materialized. None: no instance
        is kept (runs are recorded in memory only)."""
        if self.dagster_home:
            return Path(self.dagster_home)
        beside = self.work_root / INSTANCE_FOLDER
        return beside if beside.is_dir() else None

    @property
    def models_path(self) -> Path:
        """The model folder: CHARACTER_VIDEO_MODELS, else `_models` in the work root."""
        return Path(self.models_dir or self.work_root / "_models").resolve()

    def prompt_warnings(self, brief: Any, lang: str = "en") -> list[str]:
        """Shot prompts the brief's video model would cut, one line each (counted with the
        model folder's tokenizer when it is here)."""
        from resources.video.prompt_length import model_folder, prompt_overflows

        folder = model_folder(self.profile, self.models_path, brief.video.model)
        return [o.line(lang) for o in prompt_overflows(brief, folder)]


RESOURCE_KEYS = (
    "artifact_store",
    "notifier",
    "model_store",
    "inbox",
    "image_generator",
    "lora_trainer",
    "video_generator",
    "upscaler",
    "spot_monitor",
)


def build_resource(key: str, s: Settings) -> Any:
    """The resource `key` configured from `s`.

    The engines are imported here, not at the top, so that the CLI's light commands (validate,
    lineage, prices) read the settings without loading torch.
    """
    if key == "artifact_store":
        from resources.storage.root import artifact_store_for

        return artifact_store_for(s.root, s.cache_dir, public_url=s.review_url)
    if key == "notifier":
        from resources.runtime.notify import Notifier

        local = None if s.root.startswith("s3://") else str(Path(s.root).resolve())
        return Notifier(webhook_url=s.webhook_url, public_url=s.review_url, log_dir=local)
    if key == "model_store":
        from resources.models.model_store import ModelStore

        return ModelStore(
            profile=s.profile,
            models_dir=str(s.models_path),
            instance_type=s.instance_type,
            pricing=s.pricing,
            voice_python=s.voice_python,
        )
    if key == "inbox":
        from resources.inbox import BriefInbox

        return BriefInbox(paths=[str(p) for p in s.inbox])
    if key == "spot_monitor":
        from resources.runtime.spot_monitor import SpotMonitor

        return SpotMonitor(
            enabled=s.spot_monitor,
            poll_seconds=s.spot_poll_s,
            endpoint=s.imds_endpoint,
            on_demand_after=on_demand_after(s.on_demand_fallback),
            cluster=s.ecs_cluster,
        )
    if key == "image_generator":
        from resources.stills.image_generator import ImageGenerator

        return ImageGenerator()
    if key == "lora_trainer":
        return _lora_trainer(s)
    if key == "video_generator":
        from resources.video.generator import VideoGenerator

        return VideoGenerator(**s.render())
    if key == "upscaler":
        from resources.upscale.upscaler import Upscaler

        return Upscaler()
    raise KeyError(f"no resource {key!r}; known: {', '.join(RESOURCE_KEYS)}")


def _lora_trainer(s: Settings) -> Any:
    """The LoRA training backend the settings name: peft in-process, or musubi-tuner."""
    if s.lora_backend == "peft":
        from resources.lora.trainer import LoraTrainer

        return LoraTrainer()
    from resources.lora.kohya import KohyaTrainer

    venv_python = Path(s.kohya_checkout) / ".venv" / "bin" / "python"
    default_python = str(venv_python) if s.kohya_checkout and venv_python.is_file() else ""
    return KohyaTrainer(
        checkout=s.kohya_checkout,
        python=s.kohya_python or default_python,
        models=dict(s.kohya_models),
    )


@functools.cache
def run_host(imds_endpoint: str | None) -> tuple[str, str]:
    """The instance type and pricing of the EC2 host a run is on (IMDS), where the environment
    names neither: a Spot group places a run on whichever of its types has capacity, and the
    on-demand fallback is not Spot. A type with no price here is kept too: the run's costs say
    it is unpriced instead of pricing another type. ("", "") off EC2. Asked once per process:
    the host does not change."""
    from resources.runtime.spot_monitor import ec2_host

    return ec2_host(imds_endpoint) or ("", "")


def _webhook_url(url: str) -> str | None:
    """The notifications' webhook, or None; a URL that is not http(s) is refused in one line."""
    url = url.strip()
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(f"{ENV_WEBHOOK_URL}={url!r}: must be an http:// or https:// URL")
    return url or None


def _render_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The render settings the environment sets, as numbers where they are numbers."""
    found: dict[str, Any] = {}
    for name, var in RENDER_FIELDS.items():
        text = env.get(var, "").strip()
        if not text:
            continue
        if name in ("crf", "workers"):
            if not re.fullmatch(r"\d+", text):
                raise SettingsError(f"{var}={text!r} is not a whole number")
            found[name] = int(text)
        elif name == "first_block_cache":
            try:
                found[name] = float(text)
            except ValueError:
                raise SettingsError(f"{var}={text!r} is not a number") from None
        else:
            found[name] = text
    return found


def _licence_facts_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The studio's facts the environment declares; unset ones keep the defaults."""
    found: dict[str, Any] = {}
    if country := env.get(ENV_COUNTRY, "").strip():
        found["country"] = country.upper()
    if audience := env.get(ENV_AUDIENCE, "").strip():
        found["audiences"] = tuple(c.strip().upper() for c in audience.split(",") if c.strip())
    if band := env.get(ENV_REVENUE_BAND, "").strip():
        found["revenue_band"] = band
    paid = env.get(ENV_PAID_WORK, "").strip()
    if paid:
        if paid not in ("0", "1"):
            raise SettingsError(f"{ENV_PAID_WORK}={paid!r} is not 1 (paid work) or 0")
        found["paid_work"] = paid == "1"
    return found


def _flags_to_paths(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{ENV_KOHYA_MODELS} is not JSON ({error})") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SettingsError(
            f'{ENV_KOHYA_MODELS} must be a JSON object of flag to path, e.g. {{"--dit": "/w/dit"}}'
        )
    return value


def resource_defs(
    settings: Settings | None = None,
    *,
    root: str | Path | None = None,
    profile: str | None = None,
    inbox: list[str] | None = None,
    models_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Every resource the assets need, built now: from `settings` (default: the environment),
    any argument given overriding it."""
    s = settings or Settings.from_env()
    overrides: dict[str, Any] = {}
    if root is not None:
        overrides["root"] = str(root)
    if profile is not None:
        overrides["profile"] = profile
    if inbox is not None:
        overrides["inbox"] = tuple(str(p) for p in inbox)
    if models_dir is not None:
        overrides["models_dir"] = str(models_dir)
    s = replace(s, **overrides)
    return {**{key: build_resource(key, s) for key in RESOURCE_KEYS}, **_run_bundle()}


def _at_run_start(key: str) -> ResourceDefinition:
    """A definition of `key` that builds it from the environment when it is initialized.

    The video generator also takes its render settings from the run's config
    (`resources: {video_generator: {config: {crf: 20}}}`), over the environment's.
    """
    from dagster import Field, InitResourceContext, Noneable, resource

    schema = None
    if key == "video_generator":
        defaults = Settings()  # each field's config type is its default's: int, str or float
        schema = {
            name: Field(
                Noneable(type(getattr(defaults, name))), is_required=False, default_value=None
            )
            for name in RENDER_FIELDS
        }

    @resource(
        config_schema=schema,
        description=f"{key}, configured from pipeline.settings when a run starts",
    )
    def from_settings(context: InitResourceContext) -> Iterator[Any]:
        settings = Settings.from_env()
        given = {k: v for k, v in (context.resource_config or {}).items() if v is not None}
        if given:
            try:
                settings = replace(settings, **given)
            except SettingsError as error:  # name the run config, not the variable
                raise SettingsError(f"run config resources.{key}.config: {error}") from None
        built = build_resource(key, settings).with_replaced_resource_context(context)
        # The resource's own setup and teardown (the Spot monitor's poller) run as usual.
        with built.yield_for_execution(context) as value:
            yield value

    return from_settings


def code_location_resources() -> dict[str, Any]:
    """The code location's resources: the same definitions whatever the environment."""
    return {**{key: _at_run_start(key) for key in RESOURCE_KEYS}, **_run_bundle()}


def _run_bundle() -> dict[str, Any]:
    """The `runtime` resource: built per run from the run's store, models and Spot monitor."""
    from assets.materialize import stage_runtime

    return {"runtime": stage_runtime}


def run_placement_tags(
    job_tags: dict[str, str], settings: Settings | None = None
) -> dict[str, str]:
    """The ECS placement tag of a run submitted now (sensor, schedule): cluster from settings."""
    return placement_tags(job_tags, cluster=(settings or Settings.from_env()).ecs_cluster)
