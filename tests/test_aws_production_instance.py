"""deploy/dagster.yaml as production loads it: real PostgreSQL storage, EcsRunLauncher against moto.

A PostgreSQL cluster from Debian's package (tests/postgres_server.py) holds runs, events and
schedules; ECS is moto's server on loopback. The launcher's RunTask request must carry the GPU
job's capacity provider and GPU count, exactly as ECS would receive them.
"""

from __future__ import annotations

import json
import shutil
import sys

import boto3
import psycopg2
import pytest
from conftest import REPO
from dagster import DagsterInstance, asset, materialize
from dagster._core.launcher import LaunchRunContext
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from moto_aws import FAKE_ENV, moto_server
from postgres_server import postgres_server

from pipeline.definitions import defs
from pipeline.settings import run_placement_tags
from pipeline.spot import capacity_provider

pytestmark = (
    pytest.mark.slow
)  # the production instance against moto and PostgreSQL, with chain runs

CLUSTER = "character-video"
RUN_FAMILY = "character-video-run"


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def ecs_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def production_env(postgres, ecs_endpoint, tmp_path_factory):
    """DAGSTER_HOME holding deploy/dagster.yaml, with what the ECS task definitions provide."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            **FAKE_ENV,
            **postgres.env,
            "DAGSTER_HOME": str(home),
            "DAGSTER_RUN_TASK_DEFINITION": RUN_FAMILY,
            "CHARACTER_VIDEO_ECS_CLUSTER": CLUSTER,
            "AWS_ENDPOINT_URL": ecs_endpoint,
        }.items():
            patch.setenv(name, value)
        _ecs_cluster_with_a_gpu_host()  # the launcher checks its task definition on load
        yield home


@pytest.fixture(scope="module")
def instance(production_env):
    with DagsterInstance.get() as loaded:
        yield loaded


def test_production_config_uses_postgres_for_runs_events_and_schedules(instance):
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"


def test_production_config_launches_on_ecs_with_monitoring_and_retries(instance):
    assert type(instance.run_launcher).__name__ == "EcsRunLauncher"
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.run_monitoring_enabled
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 2
    assert instance.run_retries_retry_on_asset_or_op_failure


@asset
def heartbeat() -> int:
    return 1


def test_a_run_and_its_events_are_rows_in_postgres_seen_by_a_fresh_instance(instance, postgres):
    outcome = materialize([heartbeat], instance=instance)
    assert outcome.success
    with (
        psycopg2.connect(
            host=postgres.host,
            port=postgres.port,
            user=postgres.user,
            password=postgres.password,
            dbname=postgres.database,
            sslmode="require",
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("select status from runs where run_id = %s", (outcome.run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
        cursor.execute("select count(*) from event_logs where run_id = %s", (outcome.run_id,))
        assert cursor.fetchone()[0] > 5
        cursor.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
        assert cursor.fetchone() == (True,)
    with DagsterInstance.get() as fresh:
        assert fresh.get_run_by_id(outcome.run_id).is_success


def test_dynamic_partitions_persist_across_instances(instance):
    instance.add_dynamic_partitions("characters", ["acme-health/dr-ana"])
    with DagsterInstance.get() as fresh:
        assert fresh.has_dynamic_partition("characters", "acme-health/dr-ana")


def _ecs_cluster_with_a_gpu_host() -> None:
    """What terraform creates, as moto can hold it: cluster, Spot capacity provider, one host."""
    ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
    autoscaling = boto3.client("autoscaling")
    ecs.create_cluster(clusterName=CLUSTER)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="gpu", ImageId=image, InstanceType="g5.xlarge"
    )
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="gpu-1x-spot",
        LaunchConfigurationName="gpu",
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=[zone],
    )
    group = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"][0]
    ecs.create_capacity_provider(
        name=capacity_provider(1, cluster=CLUSTER),
        autoScalingGroupProvider={"autoScalingGroupArn": group["AutoScalingGroupARN"]},
    )
    ecs.put_cluster_capacity_providers(
        cluster=CLUSTER,
        capacityProviders=[capacity_provider(1, cluster=CLUSTER)],
        defaultCapacityProviderStrategy=[],  # placement must come from the run's tags
    )
    host = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="g5.xlarge")
    document = json.dumps({"instanceId": host["Instances"][0]["InstanceId"]})
    ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)
    ecs.register_task_definition(
        family=RUN_FAMILY,
        requiresCompatibilities=["EC2"],
        networkMode="bridge",
        containerDefinitions=[
            {
                "name": "run",
                "image": "example.dkr.ecr.us-east-1.amazonaws.com/character-video:test",
                "memory": 512,
                "resourceRequirements": [{"type": "GPU", "value": "1"}],
            }
        ],
    )


@pytest.fixture(scope="module")
def launched(instance):
    """A character_video run submitted as the sensor does, launched through EcsRunLauncher."""
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name="pipeline.definitions",
            working_directory=str(REPO),
        ),
        location_name="character_video",
    )
    job = defs.resolve_job_def("character_video")
    with origin.create_location(instance) as location:
        remote_job = location.get_repository("__repository__").get_full_job("character_video")
        run = instance.create_run_for_job(
            job_def=job,
            # The placement is read from the settings when the run is submitted, as the sensor
            # and the schedule do (pipeline.sensors.brief_run_tags).
            tags={
                **job.tags,
                **run_placement_tags(job.tags),
                "dagster/partition": "acme-health/dr-ana",
            },
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
        )
        instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    run = instance.get_run_by_id(run.run_id)
    task = boto3.client("ecs").describe_tasks(cluster=CLUSTER, tasks=[run.tags["ecs/task_arn"]])
    return run, task["tasks"][0]


def test_a_gpu_run_is_placed_on_the_one_gpu_spot_capacity_provider(launched):
    _, task = launched
    assert task["capacityProviderName"] == "character-video-gpu-1x-spot"
    assert task["taskDefinitionArn"].split("/")[-1].startswith(RUN_FAMILY + ":")


def test_a_gpu_run_overrides_its_container_with_one_gpu_and_the_run_command(launched):
    run, task = launched
    (container,) = task["overrides"]["containerOverrides"]
    assert container["name"] == "run"
    assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
    assert "execute_run" in " ".join(container["command"])
    assert run.run_id in json.dumps(container["command"])
