# The smallest deployment: everything at its defaults, in one region.
#
#   infra/deploy/package.sh                       # builds target/lambda/*.zip
#   export TF_VAR_admin_key_sha256=<hash printed by `snapkb admin-key`>
#   terraform init && terraform apply

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "admin_key_sha256" {
  description = "SHA-256 of the admin key's secret (`snapkb admin-key`)."
  type        = string
  sensitive   = true
}

variable "package_dir" {
  description = "Folder of the function zips. Null: target/lambda of this repository, where infra/deploy/package.sh writes them."
  type        = string
  default     = null
}

# The module's inputs docs/deploy.md sets with -var (destroying, cutting warm containers over).
variable "deletion_protection" {
  description = "Deletion protection of the table (set false to destroy)."
  type        = bool
  default     = true
}

variable "force_destroy_bucket" {
  description = "Let a destroy delete the bucket with its objects."
  type        = bool
  default     = false
}

variable "key_cache_ms" {
  description = "How long a function trusts a verified API key (any change restarts warm containers)."
  type        = number
  default     = 10000
}

module "snapkb" {
  source               = "../../modules/snapkb"
  name                 = "snapkb"
  package_dir          = coalesce(var.package_dir, "${path.root}/../../../target/lambda")
  admin_key_sha256     = var.admin_key_sha256
  deletion_protection  = var.deletion_protection
  force_destroy_bucket = var.force_destroy_bucket
  key_cache_ms         = var.key_cache_ms
}

output "api_url" {
  value = module.snapkb.api_url
}

output "bucket" {
  value = module.snapkb.bucket
}

output "function_names" {
  value = module.snapkb.function_names
}
