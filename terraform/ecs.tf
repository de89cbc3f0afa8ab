resource "aws_ecs_cluster" "main" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# The GPU-optimized ECS AMI (NVIDIA driver, nvidia-container-toolkit), resolved at apply time.
data "aws_ssm_parameter" "gpu_ami" {
  name = var.gpu_ami_ssm_parameter
}

resource "aws_launch_template" "gpu" {
  #checkov:skip=CKV_AWS_341:hop limit 2 lets the run container read Spot notices from IMDSv2; see terraform/README.md
  name_prefix            = "${var.name}-gpu-"
  image_id               = data.aws_ssm_parameter.gpu_ami.value
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.gpu_hosts.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.gpu_host.arn
  }

  # IMDSv2 only. Hop limit 2: a container on the docker bridge is one hop further than the
  # host, and the run worker must read spot/instance-action from inside its container.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.gpu_root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = aws_kms_key.main.arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  # Spot instance draining keeps new tasks off a host once its notice arrives; the running run
  # stops itself at the next unit boundary (resources/runtime/spot_monitor.py).
  user_data = base64encode(<<-EOT
    #!/bin/bash
    cat >> /etc/ecs/ecs.config <<CONFIG
    ECS_CLUSTER=${var.name}
    ECS_ENABLE_GPU_SUPPORT=true
    ECS_ENABLE_SPOT_INSTANCE_DRAINING=true
    ECS_CONTAINER_STOP_TIMEOUT=110s
    ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
    ECS_ENABLE_CONTAINER_METADATA=true
    CONFIG
    # The run container (uid 10001) keeps model weights and its artifact cache here.
    mkdir -p /var/lib/${var.name} && chown 10001:10001 /var/lib/${var.name}
    EOT
  )

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-gpu" }
  }
}

# One autoscaling group per pool: a Spot group per GPU shape (several instance types,
# price-capacity-optimized allocation) and, with on_demand_fallback, an on-demand twin at zero hosts.
resource "aws_autoscaling_group" "gpu" {
  for_each              = local.gpu_pools
  name_prefix           = "${var.name}-${each.key}-"
  vpc_zone_identifier   = var.private_subnet_ids
  min_size              = 0
  max_size              = each.value.max_size
  protect_from_scale_in = true # ECS managed termination protection: never scale in a busy host
  capacity_rebalance    = false
  health_check_type     = "EC2"

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = each.value.spot ? var.on_demand_base_capacity : 0
      on_demand_percentage_above_base_capacity = each.value.spot ? 0 : 100
      on_demand_allocation_strategy            = "prioritized"
      spot_allocation_strategy                 = "price-capacity-optimized"
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.gpu.id
        version            = "$Latest"
      }

      dynamic "override" {
        for_each = each.value.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

resource "aws_ecs_capacity_provider" "gpu" {
  for_each = local.gpu_pools
  name     = "${var.name}-${each.key}"

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.gpu[each.key].arn
    managed_termination_protection = "ENABLED"
    managed_draining               = "ENABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = 100
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = each.value.max_size
      instance_warmup_period    = 300
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name = aws_ecs_cluster.main.name
  capacity_providers = concat(
    ["FARGATE"],
    [for provider in aws_ecs_capacity_provider.gpu : provider.name],
  )

  # A task that names no capacity provider runs on one-GPU Spot capacity.
  default_capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.gpu["gpu-1x-spot"].name
    weight            = 1
    base              = 0
  }
}
