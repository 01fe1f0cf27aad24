output "api_url" {
  description = "Base URL of the HTTP API (set it as SNAPKB_URL for the CLI)."
  value       = var.domain_name == null ? aws_apigatewayv2_api.this.api_endpoint : "https://${var.domain_name}"
}

output "bucket" {
  description = "The S3 bucket; upload to inbox/<project>/<path> to ingest a file."
  value       = aws_s3_bucket.this.bucket
}

output "table" {
  description = "The DynamoDB table."
  value       = aws_dynamodb_table.this.name
}

output "function_names" {
  description = "Lambda function name per function (query, ingest, export, keys, compact, s3-trigger)."
  value       = { for f, fn in aws_lambda_function.this : f => fn.function_name }
}

output "dead_letter_queue_url" {
  description = "SQS queue receiving asynchronous events that failed every retry."
  value       = aws_sqs_queue.dlq.url
}

output "admin_key_parameter" {
  description = "SSM parameter holding the admin key's hash."
  value       = aws_ssm_parameter.admin_key_sha256.name
}

output "bucket_arn" {
  description = "ARN of the S3 bucket."
  value       = aws_s3_bucket.this.arn
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.this.arn
}

output "function_arns" {
  description = "Lambda function ARN per function."
  value       = { for f, fn in aws_lambda_function.this : f => fn.arn }
}

output "s3_trigger_function_arn" {
  description = "ARN of the function that ingests inbox/ uploads: the target for your own bucket notification when manage_bucket_notifications is false."
  value       = aws_lambda_function.this["s3-trigger"].arn
}

output "role_names" {
  description = "IAM role name per function, to attach more policies."
  value       = { for f, r in aws_iam_role.function : f => r.name }
}

output "role_arns" {
  description = "IAM role ARN per function."
  value       = { for f, r in aws_iam_role.function : f => r.arn }
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_execution_arn" {
  description = "Execution ARN of the HTTP API (for permissions and WAF)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "api_endpoint" {
  description = "The HTTP API's own endpoint, also when a custom domain is set."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "domain_target" {
  description = "With domain_name: the regional domain to point a DNS alias (or CNAME) at. Null without."
  value       = var.domain_name == null ? null : aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
}

output "domain_hosted_zone_id" {
  description = "With domain_name: the hosted zone ID for a Route 53 alias record. Null without."
  value       = var.domain_name == null ? null : aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
}
