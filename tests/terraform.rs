//! The Terraform module against the code, for what Terraform's own checks
//! (infra/dev/terraform-check.sh: validate, and `terraform test` with a mocked provider) cannot
//! know: every `.tf` file is parsed (hcl-rs) and its functions, routes, settings, IAM actions and
//! object prefixes are compared with the tables the code keeps (functions/lambda/src/deployment.rs, shared/http/src/routes.rs,
//! infra/aws/src/iam.rs).
#![expect(
    clippy::wildcard_enum_match_arm,
    reason = "parsed HCL is matched for the shapes the module uses; any other shape fails the test"
)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use hcl::{Block, Body, Expression, ObjectKey};
use snapkb_lambda::deployment::FUNCTIONS;

fn module_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/modules/snapkb")
}

/// Every `.tf` file under `dir`, parsed.
fn parse_all(dir: &Path) -> Vec<(PathBuf, Body)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(parse_all(&path));
        } else if path.extension().is_some_and(|e| e == "tf") {
            let text = std::fs::read_to_string(&path).unwrap();
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path, body));
        }
    }
    out
}

/// The module: its blocks and its locals.
struct Module {
    blocks: Vec<Block>,
    locals: BTreeMap<String, Expression>,
}

impl Module {
    fn load() -> Module {
        let mut blocks = Vec::new();
        let mut locals = BTreeMap::new();
        for (_, body) in parse_all(&module_dir()) {
            for block in body.into_blocks() {
                if block.identifier() == "locals" {
                    for attr in block.body().attributes() {
                        locals.insert(attr.key().to_string(), attr.expr().clone());
                    }
                } else {
                    blocks.push(block);
                }
            }
        }
        Module { blocks, locals }
    }

    fn local(&self, name: &str) -> &Expression {
        self.locals
            .get(name)
            .unwrap_or_else(|| panic!("local.{name} is not defined"))
    }

    /// The block `kind "type" "name"` (resource, data) or `variable "name"`.
    fn block(&self, labels: &[&str]) -> &Block {
        self.blocks
            .iter()
            .find(|b| {
                let mut l = vec![b.identifier()];
                l.extend(b.labels().iter().map(|l| l.as_str()));
                l == labels
            })
            .unwrap_or_else(|| panic!("{labels:?} is not defined"))
    }

    /// An attribute of a block, as HCL text.
    fn attribute(&self, labels: &[&str], name: &str) -> String {
        let block = self.block(labels);
        let attr = block
            .body()
            .attributes()
            .find(|a| a.key() == name)
            .unwrap_or_else(|| panic!("{labels:?} has no {name}"));
        expression_text(attr.expr())
    }

    /// The keys of an object expression, following `local.x` references and `merge(...)`.
    fn keys_of(&self, expr: &Expression) -> BTreeSet<String> {
        match expr {
            Expression::Object(object) => object.keys().map(key_text).collect(),
            Expression::FuncCall(call) if call.name.to_string() == "merge" => {
                call.args.iter().flat_map(|a| self.keys_of(a)).collect()
            }
            Expression::Traversal(_) => {
                let text = expression_text(expr);
                let name = text
                    .strip_prefix("local.")
                    .unwrap_or_else(|| panic!("cannot follow {text}"));
                self.keys_of(self.local(name))
            }
            other => panic!("not an object: {}", expression_text(other)),
        }
    }
}

fn expression_text(expr: &Expression) -> String {
    hcl::format::to_string(expr).unwrap()
}

fn key_text(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        ObjectKey::Expression(other) => expression_text(other),
        other => panic!("unexpected key {other:?}"),
    }
}

/// An object expression as key → value.
fn entries(expr: &Expression) -> BTreeMap<String, &Expression> {
    match expr {
        Expression::Object(object) => object.iter().map(|(k, v)| (key_text(k), v)).collect(),
        other => panic!("not an object: {}", expression_text(other)),
    }
}

fn string(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.clone()),
        Expression::Null => None,
        other => panic!("not a string: {}", expression_text(other)),
    }
}

fn strings(expr: &Expression) -> BTreeSet<String> {
    match expr {
        Expression::Array(items) => items.iter().filter_map(string).collect(),
        other => panic!("not a list: {}", expression_text(other)),
    }
}

#[test]
fn every_function_binary_has_a_lambda_with_its_group() {
    let module = Module::load();
    let functions = entries(module.local("functions"));
    let names: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    assert_eq!(
        functions
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        names
    );
    for spec in FUNCTIONS {
        let f = entries(functions[spec.name]);
        assert_eq!(string(f["binary"]).as_deref(), Some(spec.binary));
        assert_eq!(
            string(f["group"]).as_deref(),
            spec.group.map(|g| g.as_str()),
            "{}",
            spec.name
        );
    }
    // Every function gets memory and a timeout by default, and runs the binary as `bootstrap`.
    let defaults = entries(module.local("function_defaults"));
    for spec in FUNCTIONS {
        let d = entries(defaults[spec.name]);
        assert!(
            d.contains_key("memory_mb") && d.contains_key("timeout_seconds"),
            "{} has no default",
            spec.name
        );
        if spec.group.is_some() {
            // API Gateway stops waiting at 30 s.
            let timeout: u64 = expression_text(d["timeout_seconds"]).parse().unwrap();
            assert!(timeout <= 30, "{} times out after the gateway", spec.name);
        }
    }
    let lambda = ["resource", "aws_lambda_function", "this"];
    assert_eq!(module.attribute(&lambda, "for_each"), "local.functions");
    assert_eq!(module.attribute(&lambda, "runtime"), "\"provided.al2023\"");
    assert_eq!(module.attribute(&lambda, "handler"), "\"bootstrap\"");
    assert_eq!(
        module.attribute(&["variable", "architecture"], "default"),
        "\"arm64\""
    );
    assert_eq!(
        module.attribute(
            &["resource", "aws_cloudwatch_log_group", "function"],
            "for_each"
        ),
        "local.functions"
    );
}

#[test]
fn the_http_api_has_exactly_the_routes_of_the_router_on_the_functions_that_mount_them() {
    let module = Module::load();
    let routes: BTreeMap<String, String> = entries(module.local("routes"))
        .into_iter()
        .map(|(k, v)| (k, string(v).unwrap()))
        .collect();
    let expected: BTreeMap<String, String> = snapkb_http::ROUTES
        .iter()
        .map(|r| {
            (
                format!("{} {}", r.method, r.path),
                // Routes every function mounts are served by query.
                r.group.map_or("query", |g| g.as_str()).to_string(),
            )
        })
        .collect();
    assert_eq!(routes, expected);
    let route = ["resource", "aws_apigatewayv2_route", "this"];
    assert_eq!(module.attribute(&route, "for_each"), "local.routes");
    assert!(module.attribute(&route, "target").contains("[each.value]"));
    assert_eq!(
        module.attribute(
            &["resource", "aws_apigatewayv2_integration", "function"],
            "for_each"
        ),
        "local.http_functions"
    );
}

#[test]
fn every_function_gets_the_settings_it_reads_and_only_known_ones() {
    let module = Module::load();
    let environment = entries(module.local("environment"));
    for spec in FUNCTIONS {
        let set = module.keys_of(environment[spec.name]);
        for setting in spec.settings() {
            assert!(set.contains(setting), "{} lacks {setting}", spec.name);
        }
        for name in &set {
            let parsed = snapkb_lambda::LambdaSettings::from_vars([(name.clone(), String::new())]);
            assert!(
                !matches!(parsed, Err(snapkb_core::ConfigError::Unknown(_))),
                "{}: {name} is not a setting",
                spec.name
            );
            assert!(
                !name.ends_with("_ENDPOINT"),
                "{}: endpoint overrides are for tests",
                spec.name
            );
        }
    }
    let lambda = ["resource", "aws_lambda_function", "this"];
    let block = module.block(&lambda);
    let env = block
        .body()
        .blocks()
        .find(|b| b.identifier() == "environment")
        .expect("an environment block");
    let variables = env.body().attributes().next().unwrap();
    assert_eq!(
        expression_text(variables.expr()),
        "local.environment[each.key]"
    );
}

#[test]
fn each_role_has_exactly_the_actions_its_code_sends_and_no_wildcards() {
    let module = Module::load();
    let granted = entries(module.local("function_actions"));
    for spec in FUNCTIONS {
        let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (resource, action) in spec.actions() {
            expected
                .entry(resource.as_str().to_string())
                .or_default()
                .insert(action.to_string());
        }
        let actual: BTreeMap<String, BTreeSet<String>> = entries(granted[spec.name])
            .into_iter()
            .map(|(resource, actions)| (resource, strings(actions)))
            .collect();
        assert_eq!(actual, expected, "{}", spec.name);
    }
    // The policy is built from that table, on this deployment's resources.
    let policy = module.block(&["data", "aws_iam_policy_document", "function"]);
    let text = hcl::format::to_string(policy.body()).unwrap();
    assert!(text.contains("local.function_actions[each.key]"), "{text}");
    assert!(
        text.contains("local.resource_arns[statement.key]"),
        "{text}"
    );
    // Object actions only on the prefixes each function uses.
    assert!(text.contains("local.object_prefixes[each.key]"), "{text}");
    let prefixes = entries(module.local("object_prefixes"));
    for spec in FUNCTIONS {
        let expected: BTreeSet<String> =
            spec.object_prefixes.iter().map(|p| p.to_string()).collect();
        assert_eq!(strings(prefixes[spec.name]), expected, "{}", spec.name);
    }
    let arns = entries(module.local("resource_arns"));
    for spec in FUNCTIONS {
        for resource in entries(granted[spec.name]).keys() {
            // Objects are granted per function, under its prefixes (checked above).
            if resource == "Objects" {
                continue;
            }
            assert!(arns.contains_key(resource), "no ARN for {resource}");
            assert!(!expression_text(arns[resource]).contains("\"*\""));
        }
    }
    // No allowed wildcard action anywhere; the only `*` is the bucket policy's TLS-only deny.
    fn statements<'a>(body: &'a Body, out: &mut Vec<&'a Block>) {
        for block in body.blocks() {
            if block.identifier() == "statement" {
                out.push(block);
            }
            statements(block.body(), out);
        }
    }
    for (path, body) in parse_all(&module_dir()) {
        let mut found = Vec::new();
        statements(&body, &mut found);
        for statement in found {
            let attr = |name: &str| {
                statement
                    .body()
                    .attributes()
                    .find(|a| a.key() == name)
                    .map(|a| expression_text(a.expr()))
            };
            if attr("actions").is_some_and(|a| a.contains('*')) {
                assert_eq!(
                    attr("effect").as_deref(),
                    Some("\"Deny\""),
                    "{}: a wildcard action that allows",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_example_deploys_the_module_with_every_required_input() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/examples/basic");
    let module = Module::load();
    let required: BTreeSet<String> = module
        .blocks
        .iter()
        .filter(|b| b.identifier() == "variable")
        .filter(|b| !b.body().attributes().any(|a| a.key() == "default"))
        .map(|b| b.labels()[0].as_str().to_string())
        .collect();
    let parsed = parse_all(&example);
    let call = parsed
        .iter()
        .flat_map(|(_, body)| body.blocks())
        .find(|b| b.identifier() == "module")
        .expect("a module block");
    let given: BTreeSet<String> = call
        .body()
        .attributes()
        .map(|a| a.key().to_string())
        .collect();
    assert!(given.contains("source"));
    for input in &required {
        assert!(given.contains(input), "the example does not set {input}");
    }
}

#[test]
fn every_variable_the_deploy_guide_sets_is_declared_by_the_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/deploy.md")).unwrap();
    let used: BTreeSet<String> = guide
        .split("-var ")
        .skip(1)
        .filter_map(|rest| rest.split('=').next())
        .map(|name| name.trim().to_string())
        .collect();
    assert!(
        !used.is_empty(),
        "the guide sets no -var: this test checks nothing"
    );
    let declared: BTreeSet<String> = parse_all(&root.join("terraform/examples/basic"))
        .iter()
        .flat_map(|(_, body)| body.blocks())
        .filter(|b| b.identifier() == "variable")
        .map(|b| b.labels()[0].as_str().to_string())
        .collect();
    for name in &used {
        assert!(
            declared.contains(name),
            "docs/deploy.md sets -var {name}, which terraform/examples/basic does not declare"
        );
    }
}
