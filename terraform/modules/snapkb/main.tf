# snapkb on AWS: one bucket, one table, one Lambda per function binary, an HTTP API in front of
# the four HTTP functions, compaction on ingest and on a schedule, S3 uploads under inbox/
# ingested by s3-trigger. The locals below mirror the code (functions/lambda/src/deployment.rs,
# shared/http/src/routes.rs, infra/aws/src/iam.rs); tests/terraform.rs checks them against it.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  bucket = coalesce(var.bucket_name, "${var.name}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.id}")

  # Function name → its binary and route group (null for event functions).
  functions = {
    query        = { binary = "snapkb-query", group = "query" }
    ingest       = { binary = "snapkb-ingest", group = "ingest" }
    export       = { binary = "snapkb-export", group = "export" }
    keys         = { binary = "snapkb-keys", group = "keys" }
    compact      = { binary = "snapkb-compact", group = null }
    "s3-trigger" = { binary = "snapkb-s3-trigger", group = null }
  }
  http_functions = { for f, c in local.functions : f => c if c.group != null }

  # Each function's memory (MB) and timeout (s) unless var.functions overrides a field. HTTP
  # functions stop at 30 s, where API Gateway stops waiting; longer work goes through events
  # (inbox/ uploads, compaction) whose functions run up to 15 minutes.
  function_defaults = {
    query        = { memory_mb = 1769, timeout_seconds = 30 }
    ingest       = { memory_mb = 1769, timeout_seconds = 30 }
    export       = { memory_mb = 1769, timeout_seconds = 30 }
    keys         = { memory_mb = 512, timeout_seconds = 30 }
    compact      = { memory_mb = 3008, timeout_seconds = 900 }
    "s3-trigger" = { memory_mb = 1769, timeout_seconds = 300 }
  }
  function_config = {
    for f, d in local.function_defaults : f => {
      memory_mb            = coalesce(try(var.functions[f].memory_mb, null), d.memory_mb)
      timeout_seconds      = coalesce(try(var.functions[f].timeout_seconds, null), d.timeout_seconds)
      reserved_concurrency = try(var.functions[f].reserved_concurrency, null)
    }
  }

  # Every route of shared/http's table → the function that mounts it. The routes every
  # function mounts (/healthz, /openapi.json) go to query.
  routes = {
    "POST /v1/projects"                                  = "keys"
    "GET /v1/projects"                                   = "keys"
    "GET /v1/projects/{project}"                         = "keys"
    "PATCH /v1/projects/{project}"                       = "keys"
    "DELETE /v1/projects/{project}"                      = "keys"
    "POST /v1/projects/{project}/keys"                   = "keys"
    "GET /v1/projects/{project}/keys"                    = "keys"
    "DELETE /v1/projects/{project}/keys/{key}"           = "keys"
    "POST /v1/projects/{project}/keys/{key}/rotate"      = "keys"
    "POST /v1/projects/{project}/webhook-secret/rotate"  = "keys"
    "GET /v1/projects/{project}/operations"              = "keys"
    "POST /v1/projects/{project}/documents"              = "ingest"
    "DELETE /v1/projects/{project}/documents/{document}" = "ingest"
    "POST /v1/projects/{project}/hooks/ingest"           = "ingest"
    "GET /v1/projects/{project}/documents"               = "query"
    "GET /v1/projects/{project}/documents/{document}"    = "query"
    "POST /v1/embed"                                     = "query"
    "POST /v1/projects/{project}/query"                  = "query"
    "GET /v1/projects/{project}/health"                  = "query"
    "GET /v1/projects/{project}/usage"                   = "query"
    "POST /v1/projects/{project}/export"                 = "export"
    "POST /v1/projects/import"                           = "export"
    "GET /v1/projects/{project}/versions"                = "export"
    "POST /v1/projects/{project}/compact"                = "export"
    "POST /v1/projects/{project}/rollback"               = "export"
    "GET /healthz"                                       = "query"
    "GET /openapi.json"                                  = "query"
  }

  # SNAPKB_* settings per function (what each reads; no endpoint overrides in a deployment).
  storage_environment = {
    # Logs are JSON lines on Lambda whatever is set, so no log format is passed.
    SNAPKB_BUCKET = aws_s3_bucket.this.bucket
    SNAPKB_TABLE  = aws_dynamodb_table.this.name
  }
  http_environment = {
    SNAPKB_ADMIN_KEY_PARAMETER = aws_ssm_parameter.admin_key_sha256.name
    SNAPKB_KEY_CACHE_MS        = tostring(var.key_cache_ms)
  }
  compact_function_name = "${var.name}-compact"
  environment = {
    query        = merge(local.storage_environment, local.http_environment)
    ingest       = merge(local.storage_environment, local.http_environment, { SNAPKB_COMPACT_FUNCTION = local.compact_function_name })
    export       = merge(local.storage_environment, local.http_environment, { SNAPKB_COMPACT_FUNCTION = local.compact_function_name })
    keys         = merge(local.storage_environment, local.http_environment)
    compact      = local.storage_environment
    "s3-trigger" = merge(local.storage_environment, { SNAPKB_COMPACT_FUNCTION = local.compact_function_name })
  }

  # Functions that run from asynchronous events get a dead-letter queue.
  async_functions = toset(["compact", "s3-trigger"])
}

# --- Storage -------------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  bucket        = local.bucket
  force_destroy = var.force_destroy_bucket
  tags          = var.tags
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
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

resource "aws_s3_bucket_policy" "this" {
  bucket     = aws_s3_bucket.this.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # Snapshots and segments are immutable and removed by GC; old versions only cost money.
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  # Exports handed out as links (a link works 15 minutes) and archives uploaded for import.
  rule {
    id     = "exports"
    status = "Enabled"
    filter {
      prefix = "exports/"
    }
    expiration {
      days = 1
    }
  }

  rule {
    id     = "imports"
    status = "Enabled"
    filter {
      prefix = "imports/"
    }
    expiration {
      days = var.import_retention_days
    }
  }

  rule {
    id     = "incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_notification" "inbox" {
  count  = var.manage_bucket_notifications ? 1 : 0
  bucket = aws_s3_bucket.this.id
  lambda_function {
    lambda_function_arn = aws_lambda_function.this["s3-trigger"].arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "inbox/"
  }
  depends_on = [aws_lambda_permission.s3_inbox]
}

resource "aws_lambda_permission" "s3_inbox" {
  statement_id   = "S3Inbox"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this["s3-trigger"].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.this.arn
  source_account = data.aws_caller_identity.current.account_id
}

# The single-table design (docs/aws.md): pk/sk strings, counters expire through `ttl`.
resource "aws_dynamodb_table" "this" {
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}

resource "aws_ssm_parameter" "admin_key_sha256" {
  name        = "/${var.name}/admin-key-sha256"
  description = "SHA-256 of the snapkb deployment admin key's secret"
  type        = "SecureString"
  value       = var.admin_key_sha256
  tags        = var.tags
}

# --- Functions -----------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

# The packages go through the bucket: with the model inside, they pass the 50 MB limit of a
# direct upload (the unzipped limit, 250 MB, holds).
resource "aws_s3_object" "package" {
  for_each    = local.functions
  bucket      = aws_s3_bucket.this.id
  key         = "deploy/${each.value.binary}.zip"
  source      = "${var.package_dir}/${each.value.binary}.zip"
  source_hash = filebase64sha256("${var.package_dir}/${each.value.binary}.zip")
  tags        = var.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name     = "${var.name}-${each.key}"
  role              = aws_iam_role.function[each.key].arn
  runtime           = "provided.al2023"
  handler           = "bootstrap"
  architectures     = [var.architecture]
  s3_bucket         = aws_s3_object.package[each.key].bucket
  s3_key            = aws_s3_object.package[each.key].key
  s3_object_version = aws_s3_object.package[each.key].version_id
  source_code_hash  = filebase64sha256("${var.package_dir}/${each.value.binary}.zip")
  memory_size       = local.function_config[each.key].memory_mb
  timeout           = local.function_config[each.key].timeout_seconds

  reserved_concurrent_executions = coalesce(local.function_config[each.key].reserved_concurrency, -1)

  environment {
    variables = local.environment[each.key]
  }

  dynamic "dead_letter_config" {
    for_each = contains(local.async_functions, each.key) ? [aws_sqs_queue.dlq.arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  tags = var.tags
  # The role's policy must be in place first: creating a function with a dead-letter queue
  # checks that its role may send to it, and a function's first requests need the rest.
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]
}

resource "aws_lambda_function_event_invoke_config" "async" {
  for_each                     = local.async_functions
  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

# The compaction sweep and GC.
resource "aws_cloudwatch_event_rule" "compact" {
  name                = "${var.name}-compact"
  schedule_expression = var.compact_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "compact" {
  rule  = aws_cloudwatch_event_rule.compact.name
  arn   = aws_lambda_function.this["compact"].arn
  input = jsonencode({ sweep = true })
}

resource "aws_lambda_permission" "compact_schedule" {
  statement_id  = "CompactSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["compact"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.compact.arn
}
