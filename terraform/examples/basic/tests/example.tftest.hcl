# The example planned and applied with a mocked AWS provider, with the -var settings
# docs/deploy.md uses.

mock_provider "aws" {
  source = "../../modules/snapkb/tests"
}

variables {
  package_dir      = "../../modules/snapkb/tests/packages"
  admin_key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}

run "the_example_applies" {
  command = apply

  assert {
    condition     = length(output.function_names) == 6 && output.api_url != ""
    error_message = "the example deploys every function and answers with its URL"
  }
}

run "the_destroy_settings_apply" {
  command = apply

  variables {
    deletion_protection  = false
    force_destroy_bucket = true
    key_cache_ms         = 5000
  }

  assert {
    condition     = module.snapkb.table != ""
    error_message = "the example applies with the destroy settings"
  }
}
