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
