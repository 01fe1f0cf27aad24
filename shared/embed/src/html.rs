//! HTML to heading-structured text: parsed with a real HTML parser (html5ever via `scraper`),
//! the page's main content found (`main`, `[role=main]`, a lone `article`) and site chrome left
//! out — navigation, sidebars, related-links bars, tables of contents, footers (by element, ARIA
//! role, and class or id words site generators use), and blocks that are mostly links —
//! headings kept as markdown headings so the markdown chunker can keep sections apart.

use std::collections::HashMap;

use ego_tree::{NodeId, NodeRef};
use scraper::{Html, Node, node::Element};

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

/// Elements that are site chrome wherever they are (unless they hold most of the page).
const CHROME_ELEMENTS: &[&str] = &["nav", "aside", "footer"];
/// ARIA roles of site chrome.
const CHROME_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "menu",
    "menubar",
    "toolbar",
];
/// Words of `class` and `id` values (split at `-` and `_`) that mark site chrome: Sphinx
/// (`sphinxsidebar`, `related`, `footer`, `headerlink`), DocBook (`navheader`, `navfooter`,
/// `toc`), MkDocs, Docusaurus, Hugo and most hand-made sites (`sidebar`, `breadcrumbs`, …).
const CHROME_WORDS: &[&str] = &[
    "nav",
    "navbar",
    "navheader",
    "navfooter",
    "navigation",
    "sidebar",
    "sphinxsidebar",
    "sphinxsidebarwrapper",
    "related",
    "breadcrumb",
    "breadcrumbs",
    "footer",
    "toc",
    "menu",
    "banner",
    "cookie",
    "cookies",
    "pagination",
    "pager",
    "headerlink",
    "skip",
];
/// A block whose text is at least this share link text, with at least [`LINK_BLOCK_LINKS`]
/// links, is a list of links to elsewhere (a menu, a "see also" bar, a table of contents).
const LINK_BLOCK_DENSITY: f64 = 0.7;
const LINK_BLOCK_LINKS: usize = 3;
/// Chrome is never more than this share of the page's text: a "sidebar" holding most of it is
/// the content, whatever its name.
const CHROME_MAX_SHARE: f64 = 0.5;

/// Text sizes under an element, for telling content from chrome.
#[derive(Debug, Clone, Copy, Default)]
struct Extent {
    /// Non-space characters of text.
    text: usize,
    /// Of them, inside links.
    link_text: usize,
    links: usize,
    headings: usize,
}

/// The extent of every node, children before parents (reverse pre-order: no recursion).
fn extents(root: NodeRef<'_, Node>) -> HashMap<NodeId, Extent> {
    let nodes: Vec<NodeRef<'_, Node>> = root.descendants().collect();
    let mut out: HashMap<NodeId, Extent> = HashMap::with_capacity(nodes.len());
    for node in nodes.into_iter().rev() {
        let mut e = Extent::default();
        match node.value() {
            Node::Text(t) => e.text = t.chars().filter(|c| !c.is_whitespace()).count(),
            Node::Element(el) if SKIPPED.contains(&el.name()) => {}
            Node::Document
            | Node::Fragment
            | Node::Element(_)
            | Node::Doctype(_)
            | Node::Comment(_)
            | Node::ProcessingInstruction(_) => {
                for child in node.children() {
                    let c = out.get(&child.id()).copied().unwrap_or_default();
                    e.text += c.text;
                    e.link_text += c.link_text;
                    e.links += c.links;
                    e.headings += c.headings;
                }
            }
        }
        if let Node::Element(el) = node.value() {
            if el.name() == "a" && el.attr("href").is_some() {
                e.link_text = e.text;
                e.links += 1;
            }
            if heading_level(el.name()).is_some() {
                e.headings += 1;
            }
        }
        out.insert(node.id(), e);
    }
    out
}

/// Whether an element's class or id names site chrome.
fn named_chrome(el: &Element) -> bool {
    let words = el
        .classes()
        .chain(el.id())
        .flat_map(|v| v.split(['-', '_']))
        .map(str::to_ascii_lowercase);
    words
        .into_iter()
        .any(|w| CHROME_WORDS.contains(&w.as_str()))
}

/// Whether an element is site chrome to leave out, given its extent and the page's text size.
fn is_chrome(el: &Element, extent: Extent, page_text: usize) -> bool {
    if (extent.text as f64) > CHROME_MAX_SHARE * page_text as f64 {
        return false;
    }
    let name = el.name();
    if CHROME_ELEMENTS.contains(&name)
        || el.attr("role").is_some_and(|r| CHROME_ROLES.contains(&r))
        || (name == "header" && extent.headings == 0)
        || named_chrome(el)
    {
        return true;
    }
    let block = matches!(
        name,
        "ul" | "ol" | "dl" | "table" | "div" | "p" | "section" | "td" | "tr"
    );
    block
        && extent.links >= LINK_BLOCK_LINKS
        && extent.text > 0
        && extent.link_text as f64 >= LINK_BLOCK_DENSITY * extent.text as f64
}

/// Where the page's content is: its one `main` or `[role=main]`, else its one `article`, else
/// the whole document.
fn content_root(document: &Html) -> NodeRef<'_, Node> {
    let only = |css: &str| {
        let selector = scraper::Selector::parse(css).ok()?;
        let mut found = document.select(&selector);
        let first = found.next()?;
        found.next().is_none().then_some(*first)
    };
    only("main")
        .or_else(|| only("[role=main]"))
        .or_else(|| only("article"))
        .unwrap_or_else(|| document.tree.root())
}

/// The markdown level of a heading element: `h1`…`h6`, and any other `h` + digit clamped into
/// that range.
fn heading_level(name: &str) -> Option<usize> {
    match name.as_bytes() {
        [b'h', d @ b'0'..=b'9'] => Some(usize::from(d - b'0').clamp(1, 6)),
        _ => None,
    }
}

/// The main text of an HTML document as markdown: `#` headings, blank lines between blocks,
/// whitespace collapsed outside `<pre>`, site chrome left out (see the module docs). Walks the
/// tree without recursion, so deeply nested (or hostile) documents cannot exhaust the stack.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "comments, doctypes and processing instructions carry no text"
)]
pub fn html_to_markdown(html: &str) -> String {
    let document = Html::parse_document(html);
    let root = content_root(&document);
    let extents = extents(root);
    let page_text = extents.get(&root.id()).map_or(0, |e| e.text);
    let mut out = String::new();
    let mut line = String::new();
    let mut pre_depth = 0usize;
    enum Step<'a> {
        Enter(NodeRef<'a, Node>),
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
    let mut stack = vec![Step::Enter(root)];
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
                    let extent = extents.get(&node.id()).copied().unwrap_or_default();
                    if node.id() != root.id() && is_chrome(element, extent, page_text) {
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
