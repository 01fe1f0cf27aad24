//! HTML to heading-structured text: parsed with a real HTML parser (html5ever via `scraper`),
//! script, style, navigation and other non-content elements dropped, headings kept as markdown
//! headings so the markdown chunker can keep sections apart.

use scraper::{Html, Node};

/// Elements whose content is never document text.
const SKIPPED: &[&str] = &[
    "script", "style", "nav", "noscript", "template", "head", "svg", "iframe", "object",
];
/// Elements that end a block of text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "aside",
    "header",
    "footer",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "figure",
    "figcaption",
    "br",
    "hr",
    "form",
    "details",
    "summary",
];

/// The markdown level of a heading element: `h1`…`h6`, and any other `h` + digit clamped into
/// that range.
fn heading_level(name: &str) -> Option<usize> {
    match name.as_bytes() {
        [b'h', d @ b'0'..=b'9'] => Some(usize::from(d - b'0').clamp(1, 6)),
        _ => None,
    }
}

/// The text of an HTML document as markdown: `#` headings, blank lines between blocks,
/// whitespace collapsed outside `<pre>`. Walks the tree without recursion, so deeply nested
/// (or hostile) documents cannot exhaust the stack.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "comments, doctypes and processing instructions carry no text"
)]
pub fn html_to_markdown(html: &str) -> String {
    let document = Html::parse_document(html);
    let mut out = String::new();
    let mut line = String::new();
    let mut pre_depth = 0usize;
    enum Step<'a> {
        Enter(ego_tree::NodeRef<'a, Node>),
        Leave(&'a str),
    }
    let flush = |line: &mut String, out: &mut String| {
        let text = line.trim();
        if !text.is_empty() {
            // A text line starting with `#` would read as a heading.
            if text.starts_with('#') {
                out.push('\\');
            }
            out.push_str(text);
            out.push_str("\n\n");
        }
        line.clear();
    };
    let mut stack = vec![Step::Enter(document.tree.root())];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(node) => match node.value() {
                Node::Text(text) => {
                    let text: &str = text;
                    if pre_depth > 0 {
                        line.push_str(text);
                    } else {
                        for (i, word) in text.split_whitespace().enumerate() {
                            let needs_space = (i > 0 || text.starts_with(char::is_whitespace))
                                && !line.is_empty()
                                && !line.ends_with(' ');
                            if needs_space {
                                line.push(' ');
                            }
                            line.push_str(word);
                        }
                        if text.ends_with(char::is_whitespace)
                            && !line.is_empty()
                            && !line.ends_with(' ')
                        {
                            line.push(' ');
                        }
                    }
                }
                Node::Element(element) => {
                    let name = element.name();
                    if SKIPPED.contains(&name) {
                        continue;
                    }
                    let heading = heading_level(name);
                    if heading.is_some() || BLOCKS.contains(&name) {
                        flush(&mut line, &mut out);
                    }
                    if let Some(level) = heading {
                        line.push_str(&"#".repeat(level));
                        line.push(' ');
                    }
                    if name == "pre" {
                        pre_depth += 1;
                    }
                    stack.push(Step::Leave(name));
                    let children: Vec<_> = node.children().collect();
                    stack.extend(children.into_iter().rev().map(Step::Enter));
                }
                Node::Document | Node::Fragment => {
                    let children: Vec<_> = node.children().collect();
                    stack.extend(children.into_iter().rev().map(Step::Enter));
                }
                _ => {}
            },
            Step::Leave(name) => {
                if name == "pre" {
                    pre_depth = pre_depth.saturating_sub(1);
                }
                if heading_level(name).is_some() {
                    // A heading is one line: keep its text, then end the block.
                    let text = line.trim().to_string();
                    line.clear();
                    if text.trim_start_matches('#').trim().is_empty() {
                        continue;
                    }
                    out.push_str(&text);
                    out.push_str("\n\n");
                } else if BLOCKS.contains(&name) {
                    flush(&mut line, &mut out);
                }
            }
        }
    }
    flush(&mut line, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_headings_and_text_and_drops_scripts_styles_and_navigation() {
        let html = r#"<!doctype html><html><head><title>T</title><style>p{color:red}</style></head>
            <body><nav><a href="/">Home</a> | <a href="/x">Menu</a></nav>
            <h1>Getting <em>started</em></h1><p>First   paragraph
            with <b>bold</b> text.</p><script>alert("x")</script>
            <h2>Details</h2><ul><li>one</li><li>two</li></ul><pre>  keep   spacing</pre>
            <p># not a heading</p></body></html>"#;
        let md = html_to_markdown(html);
        assert_eq!(
            md,
            "# Getting started\n\nFirst paragraph with bold text.\n\n## Details\n\none\n\ntwo\n\nkeep   spacing\n\n\\# not a heading\n\n"
        );
    }

    #[test]
    fn deeply_nested_documents_do_not_overflow_the_stack() {
        let html = format!("{}deep{}", "<div>".repeat(20_000), "</div>".repeat(20_000));
        assert!(html_to_markdown(&html).contains("deep"));
    }
}
