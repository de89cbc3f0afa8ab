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
      command = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"]
      role    = aws_iam_role.webserver.arn
      ports   = [{ containerPort = 3000, protocol = "tcp" }]
      cpu     = 1024
      memory  = 4096
    }
    daemon = {
      command = ["dagster-daemon", "run", "-w", "workspace.yaml"]
      role    = aws_iam_role.daemon.arn
      ports   = []
      cpu     = 1024
      memory  = 4096
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
    environment  = local.dagster_environment
    secrets      = local.dagster_secrets
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
  # Never two daemons at once: stop the old task before starting the new one.
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
