output "cluster_name" {
  description = "ECS cluster; CHARACTER_VIDEO_ECS_CLUSTER in every Dagster process."
  value       = aws_ecs_cluster.main.name
}

output "capacity_providers" {
  description = "Capacity providers GPU runs ask for, by GPU shape."
  value       = { for key, provider in aws_ecs_capacity_provider.gpu : key => provider.name }
}

output "ecr_repository_url" {
  description = "Push the GPU image as <url>:<tag> and the control image as <url>:<tag>-control."
  value       = aws_ecr_repository.project.repository_url
}

output "artifact_root" {
  description = "CHARACTER_VIDEO_ROOT of the deployment."
  value       = local.artifact_root
}

output "inbox" {
  description = "CHARACTER_VIDEO_INBOX of the deployment: producers put briefs here (aws s3 cp brief.yaml <inbox>)."
  value       = "s3://${aws_s3_bucket.artifacts.id}/${local.inbox_prefix}"
}

output "database_address" {
  description = "Dagster's PostgreSQL host."
  value       = aws_db_instance.dagster.address
}

output "database_secret_arn" {
  description = "Secrets Manager secret with the database password (managed by RDS)."
  value       = local.db_secret_arn
}

output "run_task_definition" {
  description = "Task definition family EcsRunLauncher starts runs from."
  value       = aws_ecs_task_definition.run.family
}

output "review_secret_arn" {
  description = "Secrets Manager secret of the review app: a JSON object with the keys token and client_link_secret; put a value before the first deploy."
  value       = aws_secretsmanager_secret.review.arn
}
