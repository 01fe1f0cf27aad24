# The module planned and applied against the AWS provider's real schema, with a mocked provider
# (no credentials, no AWS): infra/dev/terraform-check.sh runs it from the provider mirror.

mock_provider "aws" {
  source = "./tests"
}

variables {
  package_dir      = "./tests/packages"
  admin_key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}

run "defaults_apply" {
  command = apply

  assert {
    condition     = length(aws_lambda_function.this) == 6
    error_message = "one function per binary"
  }
  assert {
    condition     = alltrue([for f in ["query", "ingest", "export", "keys"] : aws_lambda_function.this[f].timeout <= 30])
    error_message = "HTTP functions fit API Gateway's 30 s"
  }
  assert {
    condition     = aws_iam_role.function["query"].name == "snapkb-query-eu-west-1"
    error_message = "role names carry the region (they are global to the account)"
  }
  assert {
    condition     = length(aws_s3_bucket_notification.inbox) == 1
    error_message = "the module owns the inbox notification by default"
  }
  assert {
    condition     = length(aws_apigatewayv2_route.this) == length(local.routes)
    error_message = "one API route per router route"
  }
  assert {
    condition     = output.domain_target == null && output.role_names["export"] == "snapkb-export-eu-west-1"
    error_message = "outputs without a custom domain"
  }
  assert {
    condition     = aws_lambda_function.this["compact"].reserved_concurrent_executions == -1
    error_message = "no reserved concurrency unless asked"
  }
}

run "custom_domain_reserved_concurrency_and_a_partial_override_apply" {
  command = apply

  variables {
    domain_name     = "kb.example.com"
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
    functions = {
      query   = { reserved_concurrency = 5 }
      compact = { memory_mb = 4096 }
    }
    manage_bucket_notifications = false
  }

  assert {
    condition     = aws_lambda_function.this["query"].reserved_concurrent_executions == 5 && aws_lambda_function.this["query"].memory_size == 1769 && aws_lambda_function.this["query"].timeout == 30
    error_message = "a partial override keeps the other fields' defaults"
  }
  assert {
    condition     = aws_lambda_function.this["compact"].memory_size == 4096 && aws_lambda_function.this["compact"].timeout == 900
    error_message = "compact's memory is overridden, its timeout kept"
  }
  assert {
    condition     = length(aws_apigatewayv2_domain_name.this) == 1 && length(aws_apigatewayv2_api_mapping.this) == 1
    error_message = "a custom domain and its mapping"
  }
  assert {
    condition     = output.api_url == "https://kb.example.com" && output.domain_target == "d-mock.execute-api.eu-west-1.amazonaws.com" && output.domain_hosted_zone_id == "ZMOCK"
    error_message = "the domain's URL, DNS target and zone"
  }
  assert {
    condition     = length(aws_s3_bucket_notification.inbox) == 0
    error_message = "no notification when the user owns them"
  }
}

run "an_http_function_past_the_gateway_timeout_is_refused" {
  command = plan
  variables {
    functions = { export = { timeout_seconds = 300 } }
  }
  expect_failures = [var.functions]
}

run "an_unknown_function_is_refused" {
  command = plan
  variables {
    functions = { search = { memory_mb = 512 } }
  }
  expect_failures = [var.functions]
}

run "a_bad_name_is_refused" {
  command = plan
  variables {
    name = "Snap KB"
  }
  expect_failures = [var.name]
}

run "a_bad_admin_key_hash_is_refused" {
  command = plan
  variables {
    admin_key_sha256 = "not-a-hash"
  }
  expect_failures = [var.admin_key_sha256]
}

run "negative_throttling_is_refused" {
  command = plan
  variables {
    throttling_burst_limit = -1
    throttling_rate_limit  = -5
  }
  expect_failures = [var.throttling_burst_limit, var.throttling_rate_limit]
}

run "a_domain_without_a_certificate_is_refused" {
  command = plan
  variables {
    domain_name = "kb.example.com"
  }
  expect_failures = [aws_apigatewayv2_domain_name.this]
}
