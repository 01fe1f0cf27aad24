//! Main-content extraction on real pages from three site generators (DocBook: the PostgreSQL
//! manual; Sphinx: the Python documentation; mdBook: the Rust book), committed as fixtures with
//! the text expected from each. `UPDATE_EXPECT=1 cargo test -p snapkb-embed --test
//! html_extraction` rewrites the expected files; review the diff before committing it.

use std::path::Path;

use snapkb_embed::{html_text, html_to_markdown};

fn check(name: &str, kept: &[&str], dropped: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html");
    let html = std::fs::read_to_string(dir.join(format!("{name}.html"))).unwrap();
    let text = html_to_markdown(&html);
    let expected_path = dir.join(format!("{name}.expected.md"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &text).unwrap();
    }
    for k in kept {
        assert!(text.contains(k), "{name}: the content `{k}` was lost");
    }
    for d in dropped {
        assert!(!text.contains(d), "{name}: the chrome `{d}` was kept");
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(text, expected, "{name}: the extracted text changed");
}

#[test]
fn docbook_pages_keep_the_reference_and_drop_the_navigation_header_and_footer() {
    check(
        "docbook-postgresql-vacuum",
        &[
            "## VACUUM",
            "VACUUM — garbage-collect and optionally analyze a database",
            "## Description",
            "VACUUM reclaims storage occupied by dead tuples.",
            "FULL",
        ],
        &["Prev", "Next", "Home", "PostgreSQL 15.20 Documentation"],
    );
}

#[test]
fn sphinx_pages_keep_the_body_and_drop_sidebars_related_bars_and_footers() {
    check(
        "sphinx-python-shelve",
        &[
            "shelve — Python object persistence",
            "A “shelf” is a persistent, dictionary-like object.",
            "shelve.open(",
        ],
        &[
            "Previous topic",
            "Next topic",
            "This Page",
            "Report a Bug",
            "Quick search",
            "Python Software Foundation",
            "¶",
        ],
    );
}

#[test]
fn mdbook_pages_keep_the_chapter_and_drop_the_sidebar_menu_and_pager() {
    check(
        "mdbook-rust-getting-started",
        &[
            "# Getting Started",
            "Installing Rust on Linux, macOS, and Windows",
        ],
        &["Foreword", "Appendix", "Print this book"],
    );
}

/// Each fixture's sections as `path: first line`, one per line.
fn outline(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html");
    let html = std::fs::read_to_string(dir.join(format!("{name}.html"))).unwrap();
    let html = html_text(&html);
    html.sections
        .iter()
        .map(|(range, path)| {
            let first = html.text[range.clone()].trim().lines().next().unwrap_or("");
            format!("{}: {first}\n", path.join(" › "))
        })
        .collect()
}

#[test]
fn sections_follow_the_markup_of_each_site_generator() {
    // DocBook wraps each heading in `div`s of its own inside the section's `div` (a reference
    // page's headings are all `h2`).
    assert_eq!(
        outline("docbook-postgresql-vacuum"),
        "VACUUM: ## VACUUM\nSynopsis: ## Synopsis\nDescription: ## Description\n\
         Parameters: ## Parameters\nOutputs: ## Outputs\nNotes: ## Notes\n\
         Examples: ## Examples\nCompatibility: ## Compatibility\n"
    );
    // Sphinx: nested `section` elements; the `#` comment lines of the example's code are text,
    // not headings of sections of their own.
    let shelve = "shelve — Python object persistence";
    assert_eq!(
        outline("sphinx-python-shelve"),
        format!(
            "{shelve}: # {shelve}\n{shelve} › Restrictions: ## Restrictions\n{shelve} › Example: ## Example\n"
        )
    );
    assert!(
        html_to_markdown(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/html/sphinx-python-shelve.html")
            )
            .unwrap()
        )
        .contains("\n# as d was opened WITHOUT writeback=True")
    );
    // mdBook: headings straight under `main`, nested by level.
    assert_eq!(
        outline("mdbook-rust-getting-started"),
        "Getting Started: # Getting Started\n"
    );
}
