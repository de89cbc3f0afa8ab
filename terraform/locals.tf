locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The two GPU shapes: one-GPU hosts for most runs, four-GPU hosts for one worker per GPU.
  gpu_groups = {
    "gpu-1x" = {
      instance_types = var.gpu_1x_instance_types
      max_size       = var.gpu_1x_max_size
      gpus           = 1
    }
    "gpu-4x" = {
      instance_types = var.gpu_4x_instance_types
      max_size       = var.gpu_4x_max_size
      gpus           = 4
    }
  }
  on_demand_groups = var.on_demand_fallback ? local.gpu_groups : {}
  # Autoscaling groups and capacity providers, keyed "<shape>-spot" / "<shape>-ondemand": the
  # capacity provider names pipeline/spot.py puts in the job tags.
  gpu_pools = merge(
    { for shape, group in local.gpu_groups : "${shape}-spot" => merge(group, { spot = true }) },
    { for shape, group in local.on_demand_groups : "${shape}-ondemand" => merge(group, { spot = false }) },
  )

  image           = "${aws_ecr_repository.project.repository_url}:${var.image_tag}"
  control_image   = "${aws_ecr_repository.project.repository_url}:${var.image_tag}-control"
  artifact_root   = "s3://${aws_s3_bucket.artifacts.id}/artifacts"
  inbox_prefix    = "inbox/" # producers' briefs, beside (not inside) the artifact root
  db_secret_arn   = aws_db_instance.dagster.master_user_secret[0].secret_arn
  dagster_home    = "/opt/dagster/dagster_home"
  run_task_family = "${var.name}-run"

  # What every Dagster process needs to reach its storage and the artifacts.
  dagster_environment = [
    { name = "DAGSTER_HOME", value = local.dagster_home },
    { name = "DAGSTER_PG_HOST", value = aws_db_instance.dagster.address },
    { name = "DAGSTER_PG_DB", value = aws_db_instance.dagster.db_name },
    { name = "DAGSTER_PG_PORT", value = tostring(aws_db_instance.dagster.port) },
    { name = "DAGSTER_PG_USERNAME", value = aws_db_instance.dagster.username },
    { name = "CHARACTER_VIDEO_ROOT", value = local.artifact_root },
    # The sensor's inbox (and the review app's list of briefs with errors): one S3 prefix every
    # container sees, not a folder baked into the image.
    { name = "CHARACTER_VIDEO_INBOX", value = "s3://${aws_s3_bucket.artifacts.id}/${local.inbox_prefix}" },
    { name = "CHARACTER_VIDEO_PROFILE", value = "production" },
    { name = "CHARACTER_VIDEO_ECS_CLUSTER", value = aws_ecs_cluster.main.name },
    { name = "CHARACTER_VIDEO_ON_DEMAND_FALLBACK", value = var.on_demand_fallback ? "1" : "0" },
    { name = "DAGSTER_RUN_TASK_DEFINITION", value = local.run_task_family },
    { name = "AWS_REGION", value = var.region },
    # Links in Dagster metadata (written by run workers) point at the review app.
    { name = "CHARACTER_VIDEO_REVIEW_URL", value = var.review_url },
  ]

  # The review app's port and what it adds to that environment: its runs are queued on the
  # instance (the daemon launches them), and the host names producers reach it by.
  review_port = 8500
  review_environment = [
    { name = "CHARACTER_VIDEO_LAUNCH", value = "instance" },
    { name = "CHARACTER_VIDEO_REVIEW_HOSTS", value = join(",", var.review_hosts) },
  ]
  dagster_secrets = [
    { name = "DAGSTER_PG_PASSWORD", valueFrom = "${local.db_secret_arn}:password::" },
  ]
}
