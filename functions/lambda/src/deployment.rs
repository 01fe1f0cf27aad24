//! What a deployment must provide for each function binary: its route group, the AWS
//! operations its code sends (IAM derives from these through `snapkb_aws::iam`) and the
//! `SNAPKB_*` settings it reads. Terraform is checked against this table (tests/terraform.rs), and
//! the Lambda tests check that a running function sends nothing outside its list.

use std::collections::BTreeSet;

use snapkb_http::Group;

/// One Lambda function.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    /// The module's name for it (`aws_lambda_function.this["query"]`).
    pub name: &'static str,
    /// The binary (`functions/lambda/src/bin`), packaged as `bootstrap`.
    pub binary: &'static str,
    /// The route group it mounts; `None` for event functions.
    pub group: Option<Group>,
    /// AWS operations (`"Service.Operation"`) it sends, in groups (see [`Self::operations`]).
    pub operation_groups: &'static [&'static [&'static str]],
    /// Settings it reads that have no usable default in a deployment, in groups.
    pub setting_groups: &'static [&'static [&'static str]],
    /// The key prefixes of the bucket its object actions are granted on.
    pub object_prefixes: &'static [&'static str],
}

/// Every project's snapshots and write-ahead segments (`snapkb_engine::layout`).
const PROJECTS: &str = "projects/";

/// Writing an object: one PUT, or a multipart upload above the part size.
const OBJECT_WRITES: &[&str] = &[
    "S3.PutObject",
    "S3.CreateMultipartUpload",
    "S3.UploadPart",
    "S3.CompleteMultipartUpload",
    "S3.AbortMultipartUpload",
];

/// Where every function finds its data, and how it logs.
const STORAGE_SETTINGS: &[&str] = &["SNAPKB_BUCKET", "SNAPKB_TABLE"];

/// Every HTTP function checks the admin key.
const HTTP_SETTINGS: &[&str] = &["SNAPKB_ADMIN_KEY_PARAMETER"];

/// Functions that commit may ask the compact function to run.
const COMPACT_SETTINGS: &[&str] = &["SNAPKB_COMPACT_FUNCTION"];

/// An HTTP function that commits versions: reads keys, projects and the manifest, counts rate
/// windows, commits in a transaction and may invoke compaction.
const COMMITS: &[&str] = &[
    "S3.GetObject",
    "DynamoDB.GetItem",
    "DynamoDB.UpdateItem",
    "DynamoDB.TransactWriteItems",
    "Lambda.Invoke",
    "SSM.GetParameter",
];

pub const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        name: "query",
        binary: "snapkb-query",
        group: Some(Group::Query),
        // Keys, projects and the manifest are read; rate windows are counted.
        operation_groups: &[&[
            "S3.GetObject",
            "DynamoDB.GetItem",
            "DynamoDB.UpdateItem",
            "SSM.GetParameter",
        ]],
        setting_groups: &[STORAGE_SETTINGS, HTTP_SETTINGS],
        object_prefixes: &[PROJECTS],
    },
    FunctionSpec {
        name: "ingest",
        binary: "snapkb-ingest",
        group: Some(Group::Ingest),
        // Commits are transactions; webhook deliveries are claimed once with a PutItem.
        operation_groups: &[OBJECT_WRITES, COMMITS, &["DynamoDB.PutItem"]],
        setting_groups: &[STORAGE_SETTINGS, HTTP_SETTINGS, COMPACT_SETTINGS],
        object_prefixes: &[PROJECTS],
    },
    FunctionSpec {
        name: "export",
        binary: "snapkb-export",
        group: Some(Group::Export),
        // Export reads; import writes; rollback checks its objects are still there; the
        // compact route asks the compact function.
        operation_groups: &[
            OBJECT_WRITES,
            COMMITS,
            // An import creates its project item.
            &["S3.HeadObject", "DynamoDB.Query", "DynamoDB.PutItem"],
        ],
        setting_groups: &[STORAGE_SETTINGS, HTTP_SETTINGS, COMPACT_SETTINGS],
        object_prefixes: &[
            PROJECTS,
            snapkb_engine::EXPORTS_PREFIX,
            snapkb_engine::IMPORTS_PREFIX,
        ],
    },
    FunctionSpec {
        name: "keys",
        binary: "snapkb-keys",
        group: Some(Group::Keys),
        // Deleting a project removes its objects and items at once.
        operation_groups: &[&[
            "S3.ListObjectsV2",
            "S3.DeleteObject",
            "DynamoDB.GetItem",
            "DynamoDB.PutItem",
            "DynamoDB.DeleteItem",
            "DynamoDB.UpdateItem",
            "DynamoDB.Query",
            "DynamoDB.TransactWriteItems",
            "SSM.GetParameter",
        ]],
        setting_groups: &[STORAGE_SETTINGS, HTTP_SETTINGS],
        object_prefixes: &[PROJECTS],
    },
    FunctionSpec {
        name: "compact",
        binary: "snapkb-compact",
        group: None,
        // Compaction reads the log and writes a snapshot; the sweep lists projects; GC lists
        // and deletes unreferenced objects, old versions and deleted projects.
        operation_groups: &[
            OBJECT_WRITES,
            &[
                "S3.GetObject",
                "S3.ListObjectsV2",
                "S3.DeleteObject",
                "DynamoDB.GetItem",
                "DynamoDB.Query",
                "DynamoDB.DeleteItem",
                "DynamoDB.TransactWriteItems",
            ],
        ],
        setting_groups: &[STORAGE_SETTINGS],
        object_prefixes: &[PROJECTS],
    },
    FunctionSpec {
        name: "s3-trigger",
        binary: "snapkb-s3-trigger",
        group: None,
        // Reads the uploaded object, ingests it, removes it.
        operation_groups: &[
            OBJECT_WRITES,
            &[
                "S3.GetObject",
                "S3.DeleteObject",
                "DynamoDB.GetItem",
                "DynamoDB.TransactWriteItems",
                "Lambda.Invoke",
            ],
        ],
        setting_groups: &[STORAGE_SETTINGS, COMPACT_SETTINGS],
        object_prefixes: &[PROJECTS, crate::inbox::INBOX_PREFIX],
    },
];

/// The spec of `binary` (`"snapkb-query"`).
pub fn function(binary: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|f| f.binary == binary)
}

impl FunctionSpec {
    /// Every AWS operation it sends.
    pub fn operations(&self) -> Vec<&'static str> {
        self.operation_groups
            .iter()
            .flat_map(|g| g.iter().copied())
            .collect()
    }

    /// Every setting it reads.
    pub fn settings(&self) -> Vec<&'static str> {
        self.setting_groups
            .iter()
            .flat_map(|g| g.iter().copied())
            .collect()
    }

    /// The IAM actions its role needs, by resource.
    pub fn actions(&self) -> BTreeSet<(snapkb_aws::iam::Resource, &'static str)> {
        snapkb_aws::iam::actions(&self.operations())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binary_and_route_group_has_one_function() {
        let manifest = include_str!("../Cargo.toml");
        let binaries: BTreeSet<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \"snapkb-"))
            .map(|rest| rest.trim_end_matches('"'))
            .filter(|name| *name != "lambda")
            .collect();
        let specs: BTreeSet<&str> = FUNCTIONS
            .iter()
            .map(|f| f.binary.trim_start_matches("snapkb-"))
            .collect();
        assert_eq!(binaries, specs);
        for group in Group::ALL {
            assert_eq!(
                FUNCTIONS.iter().filter(|f| f.group == Some(group)).count(),
                1,
                "{group:?}"
            );
        }
    }

    #[test]
    fn every_operation_has_its_permission_and_every_setting_is_known() {
        for f in FUNCTIONS {
            assert!(!f.actions().is_empty());
            for setting in f.settings() {
                let known =
                    crate::LambdaSettings::from_vars([(setting.to_string(), String::new())]);
                assert!(
                    !matches!(known, Err(snapkb_core::ConfigError::Unknown(_))),
                    "{setting}"
                );
            }
        }
    }
}
