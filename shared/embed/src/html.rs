//! HTML to heading-structured text: parsed with a real HTML parser (html5ever via `scraper`),
//! the page's main content found (`main`, `[role=main]`, a lone `article`) and site chrome left
//! out — navigation, sidebars, related-links bars, tables of contents, footers (by element, ARIA
//! role, and class or id words site generators use), and blocks that are mostly links —
//! headings kept as markdown headings, and each section (the text under a heading, up to the
//! end of the element holding it) given with its heading path.

use std::{collections::HashMap, ops::Range};

use ego_tree::{NodeId, NodeRef};
use scraper::{Html, Node, node::Element};

use crate::markdown::heading_text;

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

/// The element whose end closes a heading's section: its nearest ancestor holding more text
/// than the heading itself (DocBook wraps a heading in `div`s of its own inside the section's
/// `div`; a note's heading shares its `div` with the note), else the content root.
///
/// The walk is linear in the page overall: the elements it passes hold the heading's text and
/// nothing else, so no two headings with text pass the same one. A heading without text opens
/// no section, so it is not walked for (many empty headings deep in a page would otherwise
/// each walk the same long chain).
fn heading_scope(
    heading: NodeRef<'_, Node>,
    root: NodeId,
    extents: &HashMap<NodeId, Extent>,
) -> NodeId {
    let text = |id: NodeId| extents.get(&id).map_or(0, |e| e.text);
    let own = text(heading.id());
    if own == 0 {
        return root;
    }
    for ancestor in heading.ancestors() {
        if ancestor.id() == root || text(ancestor.id()) > own {
            return ancestor.id();
        }
    }
    root
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

/// An HTML document's main text and its sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlText {
    /// The text as markdown: `#` headings, blank lines between blocks, whitespace collapsed
    /// outside `<pre>`, site chrome left out (see the module docs).
    pub text: String,
    /// Each section's byte range in `text` and the headings above it, outermost first. A
    /// heading's section ends where the element holding it ends, so the text after an
    /// admonition's "Note" heading is back under the section around it, and a `#` line in a
    /// code block is never a heading: sections come from the markup, not from re-reading the
    /// text as markdown.
    pub sections: Vec<(Range<usize>, Vec<String>)>,
}

/// The main text of an HTML document as markdown (see [`HtmlText::text`]).
pub fn html_to_markdown(html: &str) -> String {
    html_text(html).text
}

/// The main text of an HTML document and its sections. Walks the tree without recursion, so
/// deeply nested (or hostile) documents cannot exhaust the stack.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "comments, doctypes and processing instructions carry no text"
)]
pub fn html_text(html: &str) -> HtmlText {
    let document = Html::parse_document(html);
    let root = content_root(&document);
    let extents = extents(root);
    let page_text = extents.get(&root.id()).map_or(0, |e| e.text);
    let mut out = String::new();
    let mut line = String::new();
    let mut pre_depth = 0usize;
    let mut outline = Outline::default();
    enum Step<'a> {
        Enter(NodeRef<'a, Node>),
        Leave(&'a str, NodeId),
    }
    let flush = |line: &mut String, out: &mut String| {
        let text = line.trim();
        if !text.is_empty() {
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
                        let scope = heading_scope(node, root.id(), &extents);
                        outline.heading_starts(out.len(), level, scope);
                        line.push_str(&"#".repeat(level));
                        line.push(' ');
                    }
                    if name == "pre" {
                        pre_depth += 1;
                    }
                    stack.push(Step::Leave(name, node.id()));
                    let children: Vec<_> = node.children().collect();
                    stack.extend(children.into_iter().rev().map(Step::Enter));
                }
                Node::Document | Node::Fragment => {
                    let children: Vec<_> = node.children().collect();
                    stack.extend(children.into_iter().rev().map(Step::Enter));
                }
                _ => {}
            },
            Step::Leave(name, id) => {
                if name == "pre" {
                    pre_depth = pre_depth.saturating_sub(1);
                }
                if heading_level(name).is_some() {
                    // A heading is one line: keep its text, then end the block.
                    let text = line.trim().to_string();
                    line.clear();
                    let title = text.trim_start_matches('#').trim();
                    if title.is_empty() {
                        outline.heading_is_empty();
                        continue;
                    }
                    outline.heading_ends(title);
                    out.push_str(&text);
                    out.push_str("\n\n");
                } else {
                    if BLOCKS.contains(&name) {
                        flush(&mut line, &mut out);
                    }
                    outline.element_ends(id, || {
                        flush(&mut line, &mut out);
                        out.len()
                    });
                }
            }
        }
    }
    flush(&mut line, &mut out);
    let sections = outline.finish(&out);
    HtmlText {
        text: out,
        sections,
    }
}

/// The sections of the text as it is written: headings open them, and the end of the element
/// that holds a heading closes its section (and those below it).
#[derive(Debug, Default)]
struct Outline {
    /// Open headings, outermost first: level, text, the element whose end closes it.
    open: Vec<(usize, String, NodeId)>,
    /// A heading entered whose text is not read yet: where it starts, its level and scope.
    pending: Option<(usize, usize, NodeId)>,
    section_start: usize,
    sections: Vec<(Range<usize>, Vec<String>)>,
}

impl Outline {
    fn path(&self) -> Vec<String> {
        self.open.iter().map(|(_, text, _)| text.clone()).collect()
    }

    fn close_section(&mut self, end: usize) {
        let path = self.path();
        self.sections.push((self.section_start..end, path));
        self.section_start = end;
    }

    fn heading_starts(&mut self, at: usize, level: usize, scope: NodeId) {
        self.pending = Some((at, level, scope));
    }

    fn heading_is_empty(&mut self) {
        self.pending = None;
    }

    fn heading_ends(&mut self, text: &str) {
        let Some((at, level, scope)) = self.pending.take() else {
            return;
        };
        self.close_section(at);
        while self.open.last().is_some_and(|(l, _, _)| *l >= level) {
            self.open.pop();
        }
        self.open.push((level, heading_text(text), scope));
    }

    /// The element `id` ended: the headings it is the scope of close, with those opened after
    /// them, and their section with them (`end` flushes the text so far and says where it
    /// ends).
    fn element_ends(&mut self, id: NodeId, end: impl FnOnce() -> usize) {
        if let Some(first) = self.open.iter().position(|(_, _, scope)| *scope == id) {
            let end = end();
            self.close_section(end);
            self.open.truncate(first);
        }
    }

    fn finish(mut self, text: &str) -> Vec<(Range<usize>, Vec<String>)> {
        self.close_section(text.len());
        let mut sections = self.sections;
        sections.retain(|(r, _)| !text[r.clone()].trim().is_empty());
        sections
    }
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
            "# Getting started\n\nFirst paragraph with bold text.\n\n## Details\n\none\n\ntwo\n\nkeep   spacing\n\n# not a heading\n\n"
        );
    }

    /// Each section's text (trimmed) with its path joined by ` › `.
    fn sections_of(html: &str) -> Vec<(String, String)> {
        let html = html_text(html);
        html.sections
            .iter()
            .map(|(r, path)| (path.join(" › "), html.text[r.clone()].trim().to_string()))
            .collect()
    }

    #[test]
    fn a_hash_line_in_a_code_block_is_text_not_a_heading() {
        let sections = sections_of(
            "<main><h1>Config</h1><pre># Allow local users\nlocal all all trust\n----\nx</pre>\
             <p>After the code.</p></main>",
        );
        assert_eq!(
            sections,
            vec![(
                "Config".to_string(),
                "# Config\n\n# Allow local users\nlocal all all trust\n----\nx\n\nAfter the code."
                    .to_string()
            )]
        );
    }

    #[test]
    fn text_after_an_admonition_heading_is_back_under_the_section_around_it() {
        // DocBook: sections are `div.sect1` holding their heading, wrapped in `div`s of its
        // own; a tip is a `div` holding an `h3` of its own.
        let sections = sections_of(
            r#"<div class="sect1"><div class="titlepage"><div><h2>Usage</h2></div></div>
               <p>Intro.</p>
               <div class="tip"><h3>Tip</h3><p>A tip.</p></div><p>More usage.</p>
               <div class="sect2"><div class="titlepage"><h3>Details</h3></div><p>Deep.</p></div></div>
               <div class="sect1"><h2>Notes</h2><p>Last.</p></div>"#,
        );
        let paths: Vec<(&str, &str)> = sections
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("Usage", "## Usage\n\nIntro."),
                ("Usage › Tip", "### Tip\n\nA tip."),
                ("Usage", "More usage."),
                ("Usage › Details", "### Details\n\nDeep."),
                ("Notes", "## Notes\n\nLast."),
            ]
        );
    }

    #[test]
    fn flat_headings_nest_by_level_as_in_markdown() {
        let sections = sections_of(
            "<main><h1>A</h1><p>a</p><h2>B</h2><p>b</p><h3>C</h3><p>c</p><h2>D</h2><p>d</p></main>",
        );
        let paths: Vec<&str> = sections.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["A", "A › B", "A › B › C", "A › D"]);
    }

    #[test]
    fn empty_headings_deep_in_a_page_open_no_sections() {
        let html = format!(
            "{}<h2>Real</h2><p>text</p>{}{}",
            "<div>".repeat(2_000),
            "<h3> </h3>".repeat(5_000),
            "</div>".repeat(2_000)
        );
        let html = html_text(&html);
        assert_eq!(html.sections.len(), 1);
        assert_eq!(html.sections[0].1, vec!["Real".to_string()]);
    }

    #[test]
    fn deeply_nested_documents_do_not_overflow_the_stack() {
        let html = format!("{}deep{}", "<div>".repeat(20_000), "</div>".repeat(20_000));
        assert!(html_to_markdown(&html).contains("deep"));
    }
}
