# No inbound path from the internet: GPU hosts take no ingress at all, the webserver only from
# var.webserver_allowed_cidrs and the review app only from var.review_allowed_cidrs (both empty by
# default), the database only from the two groups below.
resource "aws_security_group" "gpu_hosts" {
  name_prefix = "${var.name}-gpu-hosts-"
  description = "GPU container instances running Dagster runs"
  vpc_id      = var.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "services" {
  name_prefix = "${var.name}-services-"
  description = "Dagster webserver, daemon and review app"
  vpc_id      = var.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "database" {
  name_prefix = "${var.name}-db-"
  description = "Dagster PostgreSQL storage"
  vpc_id      = var.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "https_out" {
  for_each          = { gpu_hosts = aws_security_group.gpu_hosts.id, services = aws_security_group.services.id }
  security_group_id = each.value
  description       = "HTTPS to ECR, S3, ECS, CloudWatch and Secrets Manager APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "postgres_out" {
  for_each                     = { gpu_hosts = aws_security_group.gpu_hosts.id, services = aws_security_group.services.id }
  security_group_id            = each.value
  description                  = "Dagster storage"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_ingress_rule" "postgres_in" {
  for_each                     = { gpu_hosts = aws_security_group.gpu_hosts.id, services = aws_security_group.services.id }
  security_group_id            = aws_security_group.database.id
  description                  = "Dagster storage from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "webserver_in" {
  for_each          = toset(var.webserver_allowed_cidrs)
  security_group_id = aws_security_group.services.id
  description       = "Dagster UI from an allowed network"
  ip_protocol       = "tcp"
  from_port         = 3000
  to_port           = 3000
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "review_in" {
  for_each          = toset(var.review_allowed_cidrs)
  security_group_id = aws_security_group.services.id
  description       = "Review app from an allowed network"
  ip_protocol       = "tcp"
  from_port         = local.review_port
  to_port           = local.review_port
  cidr_ipv4         = each.value
}
