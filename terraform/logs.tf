resource "aws_cloudwatch_log_group" "runs" {
  name              = "/${var.name}/runs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "services" {
  name              = "/${var.name}/services"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}
