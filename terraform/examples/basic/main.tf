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

module "snapkb" {
  source           = "../../modules/snapkb"
  name             = "snapkb"
  package_dir      = "${path.root}/../../../target/lambda"
  admin_key_sha256 = var.admin_key_sha256
}

output "api_url" {
  value = module.snapkb.api_url
}

output "bucket" {
  value = module.snapkb.bucket
}
