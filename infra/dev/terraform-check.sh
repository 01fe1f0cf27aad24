#!/usr/bin/env bash
# Terraform checks the module and the example itself, offline: `terraform init` from the AWS
# provider's filesystem mirror (a folder named tf-plugins; SNAPKB_TF_PLUGINS names another),
# `terraform validate`, then `terraform test` (tests/*.tftest.hcl), which plans and applies
# against the provider's real schema with a mocked provider (no credentials, nothing created).
# It runs on a copy under target/, so no .terraform folder, lock file or state lands in the repo.
set -euo pipefail
cd "$(dirname "$0")/../.."
tf="$(infra/dev/terraform.sh)"

plugins="${SNAPKB_TF_PLUGINS:-}"
if [ -z "$plugins" ]; then
  for candidate in /opt/tf-plugins /usr/share/tf-plugins "$HOME/tf-plugins"; do
    if [ -d "$candidate" ]; then plugins="$candidate"; break; fi
  done
fi
if [ -z "$plugins" ]; then
  plugins="$(find / -maxdepth 2 -type d -name tf-plugins 2>/dev/null | head -n 1 || true)"
fi
if [ -z "$plugins" ] || [ ! -d "$plugins/registry.terraform.io/hashicorp/aws" ]; then
  echo "terraform-check.sh: no AWS provider mirror: looked for a tf-plugins folder holding registry.terraform.io/hashicorp/aws (${plugins:-/opt/tf-plugins, /usr/share/tf-plugins, \$HOME/tf-plugins, then find / -maxdepth 2}); set SNAPKB_TF_PLUGINS to its path" >&2
  exit 1
fi

work=target/terraform-check
rm -rf "$work"
mkdir -p "$work"
cp -r terraform "$work/"
export TF_IN_AUTOMATION=1 TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1
for dir in modules/snapkb examples/basic; do
  echo "== terraform: $dir (provider mirror $plugins)" >&2
  (
    cd "$work/terraform/$dir"
    "$tf" init -backend=false -input=false -no-color -plugin-dir="$plugins" >/dev/null
    "$tf" validate -no-color
    "$tf" test -no-color
  ) >&2
done
