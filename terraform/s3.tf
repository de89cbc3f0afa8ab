# Artifacts: every version folder and manifest the pipeline publishes (s3://bucket/artifacts).
resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:no server access logs; CloudTrail data events are the audit trail, see terraform/README.md
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events; the pipeline reads manifests
  #checkov:skip=CKV_AWS_144:no cross-region replica; artifacts are versioned and reproducible from briefs
  bucket_prefix = "${var.name}-artifacts-"
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.artifacts_tls_only.json
}

data "aws_iam_policy_document" "artifacts_tls_only" {
  statement {
    sid       = "DenyPlainHttp"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # Mirrored staging units (training checkpoints, shots of an unfinished version) are tagged
  # kind=checkpoint by the artifact store; a published version makes them obsolete.
  rule {
    id     = "expire-checkpoints"
    status = "Enabled"

    filter {
      tag {
        key   = "kind"
        value = "checkpoint"
      }
    }

    expiration {
      days = var.checkpoint_retention_days
    }
  }

  rule {
    id     = "old-versions-and-unfinished-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}
