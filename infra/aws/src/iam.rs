//! The IAM permissions behind every AWS request snapkb sends, kept next to the adapters that
//! send them. Terraform's roles are checked against this table (tests/terraform.rs): a function's
//! role holds exactly the actions of the operations its code calls, on exactly these resources.

use std::collections::BTreeSet;

/// What an action is granted on, in the deployment's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The objects of the deployment's bucket (`arn:aws:s3:::bucket/*`).
    Objects,
    /// The bucket itself (`arn:aws:s3:::bucket`): listing.
    Bucket,
    /// The deployment's table.
    Table,
    /// The compact function.
    CompactFunction,
    /// The SSM parameter holding the admin key's hash.
    AdminKeyParameter,
}

impl Resource {
    /// The name Terraform's policy statements use for this resource (`Sid` prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Objects => "Objects",
            Resource::Bucket => "Bucket",
            Resource::Table => "Table",
            Resource::CompactFunction => "CompactFunction",
            Resource::AdminKeyParameter => "AdminKeyParameter",
        }
    }
}

/// One SDK operation (`"Service.Operation"`, as [`crate::CallCounter`] names them) and the IAM
/// actions it needs.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    pub operation: &'static str,
    pub actions: &'static [(&'static str, Resource)],
}

const fn permission(
    operation: &'static str,
    actions: &'static [(&'static str, Resource)],
) -> Permission {
    Permission { operation, actions }
}

use Resource::{AdminKeyParameter, Bucket, CompactFunction, Objects, Table};

/// Every operation the adapters (and the Lambda functions' own clients) send.
pub const PERMISSIONS: &[Permission] = &[
    // Without s3:ListBucket, S3 answers a missing key with 403 instead of 404, and the store
    // could not tell "not there" (a normal answer) from "denied" (a fault).
    permission(
        "S3.GetObject",
        &[("s3:GetObject", Objects), ("s3:ListBucket", Bucket)],
    ),
    permission(
        "S3.HeadObject",
        &[("s3:GetObject", Objects), ("s3:ListBucket", Bucket)],
    ),
    permission("S3.PutObject", &[("s3:PutObject", Objects)]),
    // Objects above the part size go up in parts; S3 authorizes the parts as PutObject.
    permission("S3.CreateMultipartUpload", &[("s3:PutObject", Objects)]),
    permission("S3.UploadPart", &[("s3:PutObject", Objects)]),
    permission("S3.CompleteMultipartUpload", &[("s3:PutObject", Objects)]),
    permission(
        "S3.AbortMultipartUpload",
        &[("s3:AbortMultipartUpload", Objects)],
    ),
    permission("S3.DeleteObject", &[("s3:DeleteObject", Objects)]),
    permission("S3.ListObjectsV2", &[("s3:ListBucket", Bucket)]),
    permission("DynamoDB.GetItem", &[("dynamodb:GetItem", Table)]),
    permission("DynamoDB.PutItem", &[("dynamodb:PutItem", Table)]),
    permission("DynamoDB.DeleteItem", &[("dynamodb:DeleteItem", Table)]),
    permission("DynamoDB.UpdateItem", &[("dynamodb:UpdateItem", Table)]),
    permission("DynamoDB.Query", &[("dynamodb:Query", Table)]),
    // A transaction has no action of its own: IAM checks each item's (the adapter sends puts,
    // deletes and condition checks).
    permission(
        "DynamoDB.TransactWriteItems",
        &[
            ("dynamodb:PutItem", Table),
            ("dynamodb:DeleteItem", Table),
            ("dynamodb:ConditionCheckItem", Table),
        ],
    ),
    permission(
        "Lambda.Invoke",
        &[("lambda:InvokeFunction", CompactFunction)],
    ),
    permission(
        "SSM.GetParameter",
        &[("ssm:GetParameter", AdminKeyParameter)],
    ),
];

/// The permission entry of `operation`, if the adapters send it.
pub fn permission_of(operation: &str) -> Option<&'static Permission> {
    PERMISSIONS.iter().find(|p| p.operation == operation)
}

/// The IAM actions on each resource that `operations` need, sorted and without repeats.
///
/// # Panics
/// On an operation missing from [`PERMISSIONS`] (a new call without its permission).
pub fn actions(operations: &[&str]) -> BTreeSet<(Resource, &'static str)> {
    operations
        .iter()
        .flat_map(|op| {
            permission_of(op)
                .unwrap_or_else(|| panic!("{op} has no entry in snapkb_aws::iam::PERMISSIONS"))
                .actions
                .iter()
                .map(|&(action, resource)| (resource, action))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every client call in the adapters' source has its permission here, and every entry
    /// is still called: the table cannot drift from the code.
    #[test]
    fn the_table_lists_exactly_the_operations_the_adapters_send() {
        let sources = [
            ("S3", include_str!("s3.rs")),
            ("DynamoDB", include_str!("dynamo.rs")),
        ];
        let mut called = BTreeSet::new();
        for (service, source) in sources {
            // Calls read `.client` then `.operation_name()` on the next lines.
            let mut after_client = false;
            for line in source.lines().map(str::trim) {
                if after_client && let Some(call) = line.strip_prefix('.') {
                    let name = call.trim_end_matches("()");
                    let operation: String = name
                        .split('_')
                        .map(|w| {
                            let mut c = w.chars();
                            c.next().map_or_else(String::new, |f| {
                                f.to_uppercase().collect::<String>() + c.as_str()
                            })
                        })
                        .collect();
                    called.insert(format!("{service}.{operation}"));
                }
                after_client = line.ends_with(".client") || line == "self.client";
            }
        }
        // Setting up a local deployment (`snapkb serve`) is not a function's job.
        for setup in ["S3.CreateBucket", "DynamoDB.CreateTable"] {
            called.remove(setup);
        }
        let listed: BTreeSet<String> = PERMISSIONS
            .iter()
            .map(|p| p.operation.to_string())
            .filter(|op| op.starts_with("S3.") || op.starts_with("DynamoDB."))
            .collect();
        assert_eq!(called, listed);
    }

    #[test]
    fn a_transaction_needs_its_item_actions_and_no_wildcards_exist() {
        let a = actions(&["DynamoDB.TransactWriteItems", "DynamoDB.GetItem"]);
        assert!(a.contains(&(Resource::Table, "dynamodb:ConditionCheckItem")));
        assert!(a.contains(&(Resource::Table, "dynamodb:GetItem")));
        for p in PERMISSIONS {
            for (action, _) in p.actions {
                assert!(!action.contains('*'), "{action}");
            }
        }
    }
}
