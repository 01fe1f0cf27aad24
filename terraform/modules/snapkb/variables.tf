variable "name" {
  description = "Prefix of every resource's name (functions, table, roles, API). Lowercase letters, digits and hyphens."
  type        = string
  default     = "snapkb"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2 to 31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "bucket_name" {
  description = "Name of the S3 bucket for snapshots, write-ahead segments and the inbox. Null: \"<name>-<account id>-<region>\"."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3 to 63 lowercase letters, digits, dots or hyphens)."
  }
}

variable "package_dir" {
  description = "Folder holding one <binary>.zip per function (a `bootstrap` inside each), as infra/deploy/package.sh writes them."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture the binaries were built for: arm64 (default, cheaper per GB-second) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "admin_key_sha256" {
  description = "SHA-256 (64 hex digits) of the deployment admin key's secret (`snapkb admin-key` prints a key and its hash). Stored as an SSM SecureString; the HTTP functions read it at init."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.admin_key_sha256))
    error_message = "admin_key_sha256 must be 64 lowercase hex digits."
  }
}

variable "functions" {
  description = "Per-function overrides of memory (MB), timeout (seconds) and reserved concurrency; any field left out keeps its default (see README.md). Keys are function names: query, ingest, export, keys, compact, s3-trigger. HTTP functions (query, ingest, export, keys) time out in at most 30 s, API Gateway's limit."
  type = map(object({
    memory_mb            = optional(number)
    timeout_seconds      = optional(number)
    reserved_concurrency = optional(number)
  }))
  default = {}

  validation {
    condition     = length(setsubtract(keys(var.functions), ["query", "ingest", "export", "keys", "compact", "s3-trigger"])) == 0
    error_message = "functions keys must be among query, ingest, export, keys, compact and s3-trigger."
  }

  validation {
    condition = alltrue([
      # Conditionals, not ||: Terraform evaluates both sides of || and a null cannot be compared.
      for f, c in var.functions : (c.memory_mb == null ? true : c.memory_mb >= 128 && c.memory_mb <= 10240) && (c.timeout_seconds == null ? true : c.timeout_seconds >= 1 && c.timeout_seconds <= 900)
    ])
    error_message = "memory_mb must be 128 to 10240 and timeout_seconds 1 to 900."
  }

  validation {
    condition = alltrue([
      for f, c in var.functions : c.timeout_seconds == null ? true : c.timeout_seconds <= 30 || !contains(["query", "ingest", "export", "keys"], f)
    ])
    error_message = "HTTP functions (query, ingest, export, keys) must time out in at most 30 seconds: API Gateway stops waiting at 30 s."
  }

  validation {
    condition = alltrue([
      for f, c in var.functions : c.reserved_concurrency == null ? true : c.reserved_concurrency >= 0
    ])
    error_message = "reserved_concurrency must be 0 or more (0 stops the function)."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' and the API's log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "key_cache_ms" {
  description = "How long a function trusts a verified API key before reading it again: the most a revocation takes to reach every warm container."
  type        = number
  default     = 10000

  validation {
    condition     = var.key_cache_ms >= 0 && var.key_cache_ms <= 300000
    error_message = "key_cache_ms must be 0 to 300000."
  }
}

variable "compact_schedule" {
  description = "EventBridge schedule of the compaction sweep and GC (the compact function also runs when an ingest pushes a log past its triggers)."
  type        = string
  default     = "rate(15 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.compact_schedule))
    error_message = "compact_schedule must be an EventBridge rate(...) or cron(...) expression."
  }
}

variable "deletion_protection" {
  description = "Deletion protection of the DynamoDB table (turn off only to destroy the deployment)."
  type        = bool
  default     = true
}

variable "force_destroy_bucket" {
  description = "Let `terraform destroy` delete the bucket with everything in it. Off by default: a destroy must not take the data by accident."
  type        = bool
  default     = false
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object's old version is kept (snapshots are immutable; this bounds what GC'd objects cost)."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "throttling_burst_limit" {
  description = "API Gateway burst limit for every route (requests)."
  type        = number
  default     = 500

  validation {
    condition     = var.throttling_burst_limit >= 0 && var.throttling_burst_limit == floor(var.throttling_burst_limit)
    error_message = "throttling_burst_limit must be a whole number of requests, 0 or more."
  }
}

variable "throttling_rate_limit" {
  description = "API Gateway steady rate limit for every route (requests per second)."
  type        = number
  default     = 1000

  validation {
    condition     = var.throttling_rate_limit >= 0
    error_message = "throttling_rate_limit must be 0 or more requests per second."
  }
}

variable "manage_bucket_notifications" {
  description = "Let the module own the bucket's event notifications (inbox/ uploads → s3-trigger). A bucket has one notification configuration: set false to write your own aws_s3_bucket_notification, with the s3_trigger_function_arn output for inbox/."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Optional custom domain for the API (e.g. kb.example.com). Needs certificate_arn."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "ACM certificate (same region) for domain_name."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when an alarm fires or recovers."
  type        = list(string)
  default     = []
}

variable "p99_duration_ms" {
  description = "Alarm when a function's p99 duration passes this many milliseconds (per function; unset functions use 80% of their timeout)."
  type        = map(number)
  default = {
    query  = 1000
    ingest = 5000
    keys   = 1000
  }
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "import_retention_days" {
  description = "Days an archive uploaded under imports/ (for POST /v1/projects/import?object=) is kept."
  type        = number
  default     = 7

  validation {
    condition     = var.import_retention_days >= 1
    error_message = "import_retention_days must be at least 1."
  }
}
