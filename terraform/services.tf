# The run worker: the GPU image on a GPU host. EcsRunLauncher starts one task per run from this
# definition, with the run's capacity provider and GPU count from its tags (pipeline/spot.py).
resource "aws_ecs_task_definition" "run" {
  family                   = local.run_task_family
  requires_compatibilities = ["EC2"]
  network_mode             = "bridge" # containers reach IMDS through the host (hop limit 2)
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.run_task.arn

  volume {
    name      = "cache"
    host_path = "/var/lib/${var.name}" # model weights and artifact cache outlive one run
  }

  container_definitions = jsonencode([{
    name                 = "run"
    image                = local.image
    essential            = true
    memoryReservation    = 14336
    resourceRequirements = [{ type = "GPU", value = "1" }]
    environment = concat(local.dagster_environment, [
      { name = "CHARACTER_VIDEO_SPOT_MONITOR", value = "1" },
      { name = "CHARACTER_VIDEO_CACHE", value = "/cache/artifacts" },
      { name = "CHARACTER_VIDEO_MODELS", value = "/cache/models" },
      { name = "HF_HUB_OFFLINE", value = "1" },
    ])
    secrets         = local.dagster_secrets
    mountPoints     = [{ sourceVolume = "cache", containerPath = "/cache" }]
    linuxParameters = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.runs.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "run"
      }
    }
  }])
}

locals {
  services = {
    webserver = {
      command     = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"]
      role        = aws_iam_role.webserver.arn
      ports       = [{ containerPort = 3000, protocol = "tcp" }]
      cpu         = 1024
      memory      = 4096
      environment = []
      secrets     = []
    }
    daemon = {
      command     = ["dagster-daemon", "run", "-w", "workspace.yaml"]
      role        = aws_iam_role.daemon.arn
      ports       = []
      cpu         = 1024
      memory      = 4096
      environment = []
      secrets     = []
    }
    # The producers' review app (python -m pipeline review). An approval or a re-roll queues the
    # run on the Dagster instance (CHARACTER_VIDEO_LAUNCH=instance); the daemon launches it on a
    # GPU host. A quote of a shape no cache holds builds full-size networks on the meta device
    # (1.1 GB resident measured for the app's process alone, plus the voice environment's
    # counting process): more memory than the other two.
    review = {
      command     = ["python", "-m", "pipeline", "review", "--host", "0.0.0.0", "--port", tostring(local.review_port)]
      role        = aws_iam_role.review.arn
      ports       = [{ containerPort = local.review_port, protocol = "tcp" }]
      cpu         = 1024
      memory      = 8192
      environment = local.review_environment
      secrets = [
        { name = "CHARACTER_VIDEO_REVIEW_TOKEN", valueFrom = "${aws_secretsmanager_secret.review.arn}:token::" },
        { name = "CHARACTER_VIDEO_CLIENT_LINK_SECRET", valueFrom = "${aws_secretsmanager_secret.review.arn}:client_link_secret::" },
      ]
    }
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each                 = local.services
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = each.value.role

  container_definitions = jsonencode([{
    name         = each.key
    image        = local.control_image
    essential    = true
    command      = each.value.command
    portMappings = each.value.ports
    environment  = concat(local.dagster_environment, each.value.environment)
    secrets      = concat(local.dagster_secrets, each.value.secrets)
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.services.name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "dagster" {
  for_each        = local.services
  name            = each.key
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.service[each.key].arn
  desired_count   = 1
  # Never two daemons at once: stop the old task before starting the new one (the review app,
  # one task too, is away for the minute a deploy takes).
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.services.id]
    assign_public_ip = false
  }

  depends_on = [aws_ecs_cluster_capacity_providers.main]
}

# The review app's secrets, one JSON value with two keys: `token`, the producers' bearer token
# (CHARACTER_VIDEO_REVIEW_TOKEN: the app refuses to listen beyond loopback without it), and
# `client_link_secret`, which signs clients' review links (CHARACTER_VIDEO_CLIENT_LINK_SECRET).
# Terraform creates the secret, not its value: the operator puts one before the first deploy
# (docs/operations.md, "Deploying from zero"); the review task reads both keys at start.
resource "aws_secretsmanager_secret" "review" {
  #checkov:skip=CKV2_AWS_57:producers type the token and clients hold links signed by the other key; the operator rotates them, see terraform/README.md
  name_prefix             = "${var.name}-review-"
  description             = "Review app: producers' bearer token and the client-link signing secret"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}
