# One role per function with only the actions its code sends (functions/lambda/src/deployment.rs
# through infra/aws/src/iam.rs; tests/terraform.rs checks this table against them), on only this
# deployment's bucket, table, compact function and parameter. No wildcard actions.

locals {
  # Function → resource → actions. Resources: Objects (bucket/*), Bucket, Table,
  # CompactFunction, AdminKeyParameter.
  function_actions = {
    query = {
      Objects           = ["s3:GetObject"]
      Bucket            = ["s3:ListBucket"]
      Table             = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      AdminKeyParameter = ["ssm:GetParameter"]
    }
    ingest = {
      Objects           = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
      Bucket            = ["s3:ListBucket"]
      Table             = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      CompactFunction   = ["lambda:InvokeFunction"]
      AdminKeyParameter = ["ssm:GetParameter"]
    }
    export = {
      Objects           = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
      Bucket            = ["s3:ListBucket"]
      Table             = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      CompactFunction   = ["lambda:InvokeFunction"]
      AdminKeyParameter = ["ssm:GetParameter"]
    }
    keys = {
      Objects           = ["s3:DeleteObject"]
      Bucket            = ["s3:ListBucket"]
      Table             = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      AdminKeyParameter = ["ssm:GetParameter"]
    }
    compact = {
      Objects = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
      Bucket  = ["s3:ListBucket"]
      Table   = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    }
    "s3-trigger" = {
      Objects         = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
      Bucket          = ["s3:ListBucket"]
      Table           = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
      CompactFunction = ["lambda:InvokeFunction"]
    }
  }

  # Function → the bucket prefixes its object actions cover (functions/lambda/src/deployment.rs):
  # project data, plus exports and imports for export and the inbox for s3-trigger.
  object_prefixes = {
    query        = ["projects/"]
    ingest       = ["projects/"]
    export       = ["projects/", "exports/", "imports/"]
    keys         = ["projects/"]
    compact      = ["projects/"]
    "s3-trigger" = ["projects/", "inbox/"]
  }

  resource_arns = {
    Bucket            = [aws_s3_bucket.this.arn]
    Table             = [aws_dynamodb_table.this.arn]
    CompactFunction   = ["arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:function:${local.compact_function_name}"]
    AdminKeyParameter = [aws_ssm_parameter.admin_key_sha256.arn]
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# Role names are global to the account: the region in the name lets the same deployment name
# live in several regions. A renamed role is created before the old one goes, so functions
# never point at a deleted role during an upgrade.
resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${var.name}-${each.key}-${data.aws_region.current.id}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  # What the function's code sends.
  dynamic "statement" {
    for_each = local.function_actions[each.key]
    content {
      sid     = statement.key
      actions = statement.value
      # Object actions only under the prefixes the function uses.
      resources = statement.key == "Objects" ? [
        for prefix in local.object_prefixes[each.key] : "${aws_s3_bucket.this.arn}/${prefix}*"
      ] : local.resource_arns[statement.key]
    }
  }

  # The runtime writes the function's logs.
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  # Lambda sends failed asynchronous events to the dead-letter queue with the role.
  dynamic "statement" {
    for_each = contains(local.async_functions, each.key) ? [aws_sqs_queue.dlq.arn] : []
    content {
      sid       = "DeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "${var.name}-${each.key}"

  lifecycle {
    create_before_destroy = true
  }

  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}
