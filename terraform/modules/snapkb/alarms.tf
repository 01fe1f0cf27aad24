# Alarms: errors, throttles and p99 duration per function; anything in the dead-letter queue.

locals {
  # Function × counted metric: any failed or throttled invocation is worth a look.
  count_alarms = {
    for pair in setproduct(keys(local.functions), ["Errors", "Throttles"]) :
    "${pair[0]}-${lower(pair[1])}" => { function = pair[0], metric = pair[1] }
  }
  count_alarm_descriptions = {
    Errors    = "failed invocations (crashes, timeouts, failed events)"
    Throttles = "invocations throttled by Lambda concurrency"
  }
}

resource "aws_cloudwatch_metric_alarm" "count" {
  for_each            = local.count_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${var.name}-${each.value.function}: ${local.count_alarm_descriptions[each.value.metric]}."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this[each.value.function].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "p99_duration" {
  for_each            = local.functions
  alarm_name          = "${var.name}-${each.key}-p99-duration"
  alarm_description   = "${var.name}-${each.key} p99 duration over its threshold for 15 minutes."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  threshold           = lookup(var.p99_duration_ms, each.key, local.function_config[each.key].timeout_seconds * 800)
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Asynchronous events (compaction requests, inbox uploads) that failed every retry."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
