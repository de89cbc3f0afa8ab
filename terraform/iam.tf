# One role per job, each allowed only what that job does.

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# GPU hosts: register with the cluster (the ECS agent) and be reachable through SSM, nothing else.
resource "aws_iam_role" "gpu_host" {
  name_prefix        = "${var.name}-gpu-host-"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

resource "aws_iam_role_policy_attachment" "gpu_host_ecs" {
  role       = aws_iam_role.gpu_host.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_role_policy_attachment" "gpu_host_ssm" {
  role       = aws_iam_role.gpu_host.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "gpu_host" {
  name_prefix = "${var.name}-gpu-host-"
  role        = aws_iam_role.gpu_host.name
}

# Task execution (the ECS agent on behalf of a task): pull the image, write logs, read the
# database password into the container's environment.
resource "aws_iam_role" "task_execution" {
  name_prefix        = "${var.name}-exec-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

resource "aws_iam_role_policy_attachment" "task_execution" {
  role       = aws_iam_role.task_execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "task_execution_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.db_secret_arn, aws_secretsmanager_secret.review.arn]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "task_execution_secrets" {
  role   = aws_iam_role.task_execution.id
  policy = data.aws_iam_policy_document.task_execution_secrets.json
}

# Run workers (GPU tasks): read and write artifacts, nothing else in AWS.
resource "aws_iam_role" "run_task" {
  name_prefix        = "${var.name}-run-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

data "aws_iam_policy_document" "artifacts_read_write" {
  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
  }
  statement {
    sid = "ReadWriteArtifacts"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.artifacts.arn}/*"]
  }
  statement {
    sid       = "ArtifactKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "run_task_artifacts" {
  role   = aws_iam_role.run_task.id
  policy = data.aws_iam_policy_document.artifacts_read_write.json
}

# The daemon: launch, watch and stop run tasks on this cluster (EcsRunLauncher, run monitoring),
# read run logs, read artifacts and briefs for sensors, and write the sensor's reports (a brief's
# problems) beside the briefs in the inbox.
resource "aws_iam_role" "daemon" {
  name_prefix        = "${var.name}-daemon-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

data "aws_iam_policy_document" "daemon" {
  statement {
    sid       = "LaunchRuns"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task-definition/${local.run_task_family}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.main.arn]
    }
  }
  statement {
    sid       = "WatchAndStopRuns"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask", "ecs:TagResource", "ecs:ListTagsForResource"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${aws_ecs_cluster.main.name}/*"]
  }
  statement {
    # DescribeTaskDefinition supports no resource-level permissions.
    sid       = "ReadTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
  statement {
    sid       = "PassRunRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.run_task.arn, aws_iam_role.task_execution.arn]
  }
  statement {
    sid       = "ReadRunLogs"
    actions   = ["logs:GetLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.runs.arn}:*"]
  }
  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
  }
  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/*"]
  }
  statement {
    sid       = "WriteInboxReports"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.inbox_prefix}*"]
  }
  statement {
    sid       = "ArtifactKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "daemon" {
  role   = aws_iam_role.daemon.id
  policy = data.aws_iam_policy_document.daemon.json
}

# The webserver: show runs and their logs, terminate a run on request.
resource "aws_iam_role" "webserver" {
  name_prefix        = "${var.name}-web-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

data "aws_iam_policy_document" "webserver" {
  statement {
    sid       = "WatchAndStopRuns"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${aws_ecs_cluster.main.name}/*"]
  }
  statement {
    sid       = "ReadRunLogs"
    actions   = ["logs:GetLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.runs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "webserver" {
  role   = aws_iam_role.webserver.id
  policy = data.aws_iam_policy_document.webserver.json
}

# The review app: read the artifacts it shows (and presign their URLs), write the producers'
# decisions, acceptances and client links beside them. Runs it starts are queued in the database.
resource "aws_iam_role" "review" {
  name_prefix        = "${var.name}-review-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

resource "aws_iam_role_policy" "review_artifacts" {
  role   = aws_iam_role.review.id
  policy = data.aws_iam_policy_document.artifacts_read_write.json
}

# RDS enhanced monitoring.
data "aws_iam_policy_document" "assume_rds_monitoring" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name_prefix        = "${var.name}-rds-mon-"
  assume_role_policy = data.aws_iam_policy_document.assume_rds_monitoring.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
