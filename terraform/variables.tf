variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource; also the ECS cluster name."
  type        = string
  default     = "character-video"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC the cluster, database and services run in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two, in different AZs) for GPU hosts, services and RDS. They reach ECR, S3 and the ECS API through a NAT gateway or VPC endpoints."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids needs at least two subnets in different availability zones (RDS requires it)."
  }
}

variable "gpu_1x_instance_types" {
  description = "One-GPU instance types the Spot group may launch, in order of preference; more types mean more Spot pools to draw from."
  type        = list(string)
  default     = ["g5.xlarge", "g5.2xlarge", "g6.xlarge", "g6.2xlarge"]
}

variable "gpu_4x_instance_types" {
  description = "Four-GPU instance types for multi-GPU runs (one worker per GPU)."
  type        = list(string)
  default     = ["g5.12xlarge", "g6.12xlarge"]
}

variable "gpu_1x_max_size" {
  description = "Most one-GPU hosts running at once: the cap on parallel single-GPU runs."
  type        = number
  default     = 4
}

variable "gpu_4x_max_size" {
  description = "Most four-GPU hosts running at once."
  type        = number
  default     = 1
}

variable "on_demand_fallback" {
  description = "Also create on-demand capacity providers (min 0) that runs fall back to after repeated Spot interruptions."
  type        = bool
  default     = false
}

variable "on_demand_base_capacity" {
  description = "Hosts of each Spot group that are on-demand anyway (0: all Spot)."
  type        = number
  default     = 0
}

variable "gpu_ami_ssm_parameter" {
  description = "SSM parameter holding the ECS GPU-optimized AMI id."
  type        = string
  default     = "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
}

variable "gpu_root_volume_gb" {
  description = "Root volume of a GPU host: the image (CUDA, torch) plus model weights cached on the host."
  type        = number
  default     = 200
}

variable "image_tag" {
  description = "Tag of the project image in ECR that services and runs use."
  type        = string
  default     = "latest"
}

variable "db_instance_class" {
  description = "RDS instance class of Dagster's PostgreSQL storage."
  type        = string
  default     = "db.t4g.small"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage of the Dagster database."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "Run the database in two availability zones."
  type        = bool
  default     = false
}

variable "webserver_allowed_cidrs" {
  description = "CIDR blocks that may reach the Dagster webserver on port 3000. Empty: reachable only through an SSM port forward or a bastion."
  type        = list(string)
  default     = []
}

variable "review_allowed_cidrs" {
  description = "CIDR blocks that may reach the producers' review app on port 8500 (the studio's VPN). Empty: reachable only through an SSM port forward or a bastion."
  type        = list(string)
  default     = []
}

variable "review_url" {
  description = "Where producers reach the review app, e.g. https://review.studio.example (a TLS proxy or load balancer of the studio's in front of port 8500). Empty: links in Dagster metadata stay links to artifacts."
  type        = string
  default     = ""

  validation {
    condition     = var.review_url == "" || can(regex("^https?://[^/?#]+(/[^?#]*)?$", var.review_url))
    error_message = "review_url must be empty or an http(s) address with no query, e.g. https://review.studio.example."
  }
}

variable "review_hosts" {
  description = "Other host names producers reach the review app by (besides review_url's); a request naming any other host is refused."
  type        = list(string)
  default     = []
}

variable "checkpoint_retention_days" {
  description = "Days a mirrored staging unit (training checkpoint, unfinished shot) is kept in S3."
  type        = number
  default     = 14
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted artifact object version is kept."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "CloudWatch log retention."
  type        = number
  default     = 365
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in USD; alerts go to budget_alert_emails at 80% actual and 100% forecast."
  type        = number
  default     = 3000
}

variable "budget_alert_emails" {
  description = "Addresses that receive budget alerts."
  type        = list(string)
  default     = []
}
