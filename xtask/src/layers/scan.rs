//! Reading a crate's sources for `cargo xtask layers`: which module each file is, and which
//! other files each file's paths reach.
//!
//! Three passes. [`tokens`] turns a file into identifiers, `::` and punctuation, with comments,
//! doc comments and literals gone. [`parse`] walks those tokens, skipping `#[cfg(test)]` items,
//! and collects the file's `use` leaves (a grouped `use a::{b, c::{d}}` gives three), its
//! inline paths (`crate::a::B`, `super::c::D`, `self::e::F`, or `g::H` where `g` is a child
//! module) and the names it declares. [`Tree::edges`] resolves each path to the longest prefix
//! that is a module file; when that file is a folder's module (`mod.rs`, `lib.rs`) and the next
//! segment is an item it imports from one of its children, the path goes on into that child,
//! so a facade's re-exports never make a file depend on the facade.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// An identifier (`$crate` included), `::`, `"` (any literal) or one punctuation character.
#[derive(Clone, Debug, PartialEq)]
struct Token {
    /// The text; every literal is `"`, every lifetime `'`.
    text: String,
    /// Its line, from 1.
    line: usize,
}

/// A path as written in a file, flattened out of its `use` group.
#[derive(Clone, Debug)]
struct Written {
    /// The segments, e.g. `["super", "memory", "lock"]`.
    segments: Vec<String>,
    /// The line of its first segment.
    line: usize,
    /// The module it is written in (the file's, plus any inline `mod` around it).
    module: Vec<String>,
}

/// One leaf of a `use` tree.
#[derive(Clone, Debug)]
struct UseLeaf {
    /// The path (without a trailing `self`; for a glob, the module globbed).
    path: Written,
    /// The name it brings into scope (`as` renames it); `None` for a glob.
    name: Option<String>,
    /// Whether the `use` is `pub` (any visibility), i.e. may be a re-export.
    public: bool,
}

/// What one file says.
#[derive(Debug, Default)]
struct Parsed {
    /// Its `use` leaves.
    uses: Vec<UseLeaf>,
    /// Its other paths that may name a module of the crate.
    paths: Vec<Written>,
    /// The names its top level declares (`struct X`, `fn y`, `macro_rules! z`, ...).
    declared: BTreeSet<String>,
    /// Modules it declares as `#[cfg(test)] mod name;`: test-only files.
    test_modules: Vec<Vec<String>>,
}

/// An edge between two files: `from` names something defined in `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// The importing file, relative to the source directory (`net/link.rs`).
    pub from: String,
    /// The line of the path in `from`.
    pub line: usize,
    /// The file defining what it names.
    pub to: String,
    /// The path as written, e.g. `crate::checkpoint::Rescued`; the paths, comma-separated, when
    /// one line names several items of the file.
    pub path: String,
}

/// A crate's source files, parsed.
#[derive(Debug)]
pub struct Tree {
    /// Every file but test-only ones, relative to the source directory, `/`-separated, sorted.
    pub files: Vec<String>,
    /// Module path to file.
    modules: BTreeMap<Vec<String>, String>,
    /// File to what it says.
    parsed: BTreeMap<String, Parsed>,
}

/// Item keywords whose next identifier is a declared name.
const ITEM_KEYWORDS: &[&str] = &[
    "struct", "enum", "union", "fn", "trait", "type", "const", "static", "mod",
];

impl Tree {
    /// Reads every `.rs` file under `src`.
    pub fn read(src: &Path) -> Result<Tree, String> {
        let mut sources = BTreeMap::new();
        collect(src, "", &mut sources)?;
        if sources.is_empty() {
            return Err(format!(
                "found no .rs files under {}: expected a crate's source directory",
                src.display()
            ));
        }
        Tree::from_sources(sources)
    }

    /// Parses sources given as (relative path, text).
    fn from_sources(sources: BTreeMap<String, String>) -> Result<Tree, String> {
        let mut modules = BTreeMap::new();
        let mut parsed = BTreeMap::new();
        for (file, text) in &sources {
            let module = module_of(file);
            if let Some(other) = modules.insert(module.clone(), file.clone()) {
                return Err(format!(
                    "{other} and {file} are both module `{}`: expected one file per module",
                    module.join("::")
                ));
            }
            parsed.insert(file.clone(), parse(&tokens(text), &module));
        }
        let test_only: Vec<Vec<String>> = parsed
            .values()
            .flat_map(|parsed| parsed.test_modules.clone())
            .collect();
        let files = sources
            .into_keys()
            .filter(|file| !test_only.iter().any(|m| module_of(file).starts_with(m)))
            .collect();
        Ok(Tree {
            files,
            modules,
            parsed,
        })
    }

    /// Every edge between two different files, except edges from or to the crate root
    /// (`lib.rs`), in file and line order; the paths of one line to one file make one edge.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges: BTreeMap<(&String, usize, &String), Vec<String>> = BTreeMap::new();
        for file in self.files.iter().filter(|file| *file != "lib.rs") {
            let parsed = &self.parsed[file];
            let module = module_of(file);
            let uses = parsed.uses.iter().filter_map(|leaf| {
                let target = self.absolute(&leaf.path)?;
                // A re-export of its own child is a facade's job, not a dependency.
                let reexport = leaf.public && target.len() > module.len();
                (!(reexport && target.starts_with(&module))).then_some((&leaf.path, target))
            });
            let paths = (parsed.paths.iter())
                .filter_map(|written| Some((written, self.absolute(written)?)));
            for (written, target) in uses.chain(paths) {
                let Some(to) = self.resolve(&target, 0) else {
                    continue;
                };
                if to != file && to != "lib.rs" && self.files.contains(to) {
                    let path = written.segments.join("::");
                    let same = edges.entry((file, written.line, to)).or_default();
                    if !same.contains(&path) {
                        same.push(path);
                    }
                }
            }
        }
        (edges.into_iter())
            .map(|((from, line, to), paths)| Edge {
                from: from.clone(),
                line,
                to: to.clone(),
                path: paths.join(", "),
            })
            .collect()
    }

    /// The absolute module path `written` names, if it names one of this crate's.
    fn absolute(&self, written: &Written) -> Option<Vec<String>> {
        let (first, rest) = written.segments.split_first()?;
        let mut path = match first.as_str() {
            "crate" | "$crate" => vec![],
            "self" => written.module.clone(),
            "super" => {
                let mut path = written.module.clone();
                path.pop()?;
                let supers = rest.iter().take_while(|s| *s == "super").count();
                for _ in 0..supers {
                    path.pop()?;
                }
                path.extend(rest[supers..].iter().cloned());
                return Some(path);
            }
            _ => {
                // A relative path: ours only if it starts with a child module.
                let mut child = written.module.clone();
                child.push(first.clone());
                self.modules.contains_key(&child).then_some(())?;
                child
            }
        };
        path.extend(rest.iter().cloned());
        Some(path)
    }

    /// The file defining what absolute `path` names: its longest prefix that is a module file,
    /// followed through a folder module's imports from its children.
    fn resolve(&self, path: &[String], depth: usize) -> Option<&String> {
        let k = (0..=path.len())
            .rev()
            .find(|&k| self.modules.contains_key(&path[..k]))?;
        let (module, rest) = path.split_at(k);
        let file = &self.modules[module];
        if let Some(name) = rest.first().filter(|_| depth < 16) {
            if let Some(mut target) = self.imported_from_child(module, name) {
                target.extend(rest[1..].iter().cloned());
                return self.resolve(&target, depth + 1);
            }
        }
        Some(file)
    }

    /// Where `module` takes `name` from, when it imports it (by name or by a glob) from one of
    /// its own children: the item's absolute path.
    fn imported_from_child(&self, module: &[String], name: &str) -> Option<Vec<String>> {
        let file = self.modules.get(module)?;
        for leaf in &self.parsed[file].uses {
            let Some(target) = self.absolute(&leaf.path) else {
                continue;
            };
            if target.len() <= module.len() || !target.starts_with(module) {
                continue;
            }
            match &leaf.name {
                Some(leaf_name) if leaf_name == name => return Some(target),
                None => {
                    let Some(globbed) = self.modules.get(&target) else {
                        continue;
                    };
                    if self.parsed[globbed].declared.contains(name)
                        || self.imported_from_child(&target, name).is_some()
                    {
                        return Some([target, vec![name.to_string()]].concat());
                    }
                }
                Some(_) => {}
            }
        }
        None
    }
}

/// Reads the `.rs` files under `dir` (whose path relative to the source directory is `prefix`)
/// into `out`, keyed by relative path.
fn collect(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|error| {
        format!(
            "cannot read {}: {error}; expected a crate's source directory",
            dir.display()
        )
    })?;
    for entry in entries {
        let path = entry
            .map_err(|error| format!("{}: {error}", dir.display()))?
            .path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let relative = format!("{prefix}{name}");
        if path.is_dir() {
            collect(&path, &format!("{relative}/"), out)?;
        } else if name.ends_with(".rs") {
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            out.insert(relative, text);
        }
    }
    Ok(())
}

/// The module a file is: `lib.rs` the root, `a/mod.rs` and `a.rs` `a`, `a/b.rs` `a::b`.
pub fn module_of(file: &str) -> Vec<String> {
    let mut segments: Vec<String> = (file.strip_suffix(".rs").unwrap_or(file).split('/'))
        .map(String::from)
        .collect();
    if segments == ["lib"] || segments.last().is_some_and(|last| last == "mod") {
        segments.pop();
    }
    segments
}

/// Whether `text` is an identifier (or `$crate`).
fn is_ident(text: &str) -> bool {
    text.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '$')
}

/// Splits Rust source into tokens, dropping whitespace, comments and literal contents.
fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
    let ident_char = |c: char| c.is_alphanumeric() || c == '_';
    let (mut out, mut i, mut line) = (Vec::new(), 0, 1);
    while i < chars.len() {
        let (c, start, start_line) = (chars[i], i, line);
        let mut text = None;
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    (depth, i) = (depth + 1, i + 2);
                } else if at(i) == '*' && at(i + 1) == '/' {
                    (depth, i) = (depth - 1, i + 2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = string_end(&chars, i) {
            (text, i) = (Some("\"".to_string()), end);
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let quote = if c == 'b' { i + 1 } else { i };
            if at(quote + 1) == '\\' {
                i = quote + 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                (text, i) = (Some("\"".into()), i + 1);
            } else if at(quote + 2) == '\'' {
                (text, i) = (Some("\"".into()), quote + 3);
            } else {
                i = quote + 1;
                while ident_char(at(i)) {
                    i += 1;
                }
                text = Some("'".into());
            }
        } else if ident_char(c) || (c == '$' && ident_char(at(i + 1))) {
            if c == 'r' && at(i + 1) == '#' && ident_char(at(i + 2)) {
                i += 2; // a raw identifier: `r#type` is `type`
            }
            let from = i;
            i += 1;
            while ident_char(at(i))
                || (at(i) == '.' && c.is_ascii_digit() && at(i + 1).is_ascii_digit())
            {
                i += 1;
            }
            text = Some(chars[from..i].iter().collect());
        } else if c == ':' && at(i + 1) == ':' {
            (text, i) = (Some("::".into()), i + 2);
        } else {
            i += 1;
            text = (!c.is_whitespace()).then(|| c.to_string());
        }
        line += chars[start..i.min(chars.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count();
        if let Some(text) = text {
            out.push(Token {
                text,
                line: start_line,
            });
        }
    }
    out
}

/// If a string literal (`"..."`, `b"..."`, `c"..."`, `r#"..."#`, `br"..."`) starts at `i`, the
/// index just past it.
fn string_end(chars: &[char], start: usize) -> Option<usize> {
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');
    let mut i = start + usize::from(matches!(at(start), 'b' | 'c'));
    let raw = at(i) == 'r';
    i += usize::from(raw);
    let hashes = (i..).take_while(|&k| at(k) == '#').count();
    i += hashes;
    if at(i) != '"' || (!raw && hashes > 0) {
        return None;
    }
    i += 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if !raw => i += 2,
            '"' if (1..=hashes).all(|h| at(i + h) == '#') => return Some(i + 1 + hashes),
            _ => i += 1,
        }
    }
    Some(chars.len())
}

/// Collects what the tokens of a file of module `file_module` say.
fn parse(tokens: &[Token], file_module: &[String]) -> Parsed {
    let text = |k: usize| tokens.get(k).map_or("", |t| t.text.as_str());
    let mut parsed = Parsed::default();
    // Inline modules around the current token: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let module: Vec<String> = (file_module.iter().cloned())
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        let t = text(i);
        let path_start = is_ident(t) && text(i + 1) == "::" && is_ident(text(i + 2));
        if (i..i + 7)
            .map(text)
            .eq(["#", "[", "cfg", "(", "test", ")", "]"])
        {
            i = skip_test_item(tokens, i + 7, &module, &mut parsed);
            continue;
        } else if t == "{" {
            depth += 1;
        } else if t == "}" {
            if inline.last().is_some_and(|&(_, d)| d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
        } else if t == "mod" && is_ident(text(i + 1)) && text(i + 2) == "{" {
            depth += 1;
            inline.push((text(i + 1).to_string(), depth));
            i += 3;
            continue;
        } else if t == "use" {
            let public = text(i.wrapping_sub(1)) == "pub" || is_restricted_pub(tokens, i);
            let mut leaves = Vec::new();
            i += 1;
            use_tree(tokens, &mut i, &[], &module, &mut leaves);
            while !matches!(text(i), ";" | "") {
                i += 1;
            }
            parsed
                .uses
                .extend(
                    leaves
                        .into_iter()
                        .map(|(path, name)| UseLeaf { path, name, public }),
                );
            continue;
        } else if depth == 0 && ITEM_KEYWORDS.contains(&t) && is_ident(text(i + 1)) {
            parsed.declared.insert(text(i + 1).to_string());
        } else if depth == 0 && t == "macro_rules" && text(i + 1) == "!" {
            parsed.declared.insert(text(i + 2).to_string());
        } else if path_start && text(i.wrapping_sub(1)) != "::" {
            let mut segments = vec![t.to_string()];
            while text(i + 1) == "::" && is_ident(text(i + 2)) {
                segments.push(text(i + 2).to_string());
                i += 2;
            }
            parsed.paths.push(Written {
                segments,
                line: tokens[i].line,
                module,
            });
        }
        i += 1;
    }
    parsed
}

/// Whether the `use` at `i` follows `pub(...)`.
fn is_restricted_pub(tokens: &[Token], i: usize) -> bool {
    if i == 0 || tokens[i - 1].text != ")" {
        return false;
    }
    let open = (0..i - 1).rev().find(|&k| tokens[k].text == "(");
    open.is_some_and(|k| k > 0 && tokens[k - 1].text == "pub")
}

/// Parses the use tree at `*i` under `prefix`, pushing each leaf (its path and the name it
/// binds, `None` for a glob), and leaves `*i` after it.
fn use_tree(
    tokens: &[Token],
    i: &mut usize,
    prefix: &[String],
    module: &[String],
    out: &mut Vec<(Written, Option<String>)>,
) {
    let text = |k: usize| tokens.get(k).map_or("", |t| t.text.as_str());
    let line = tokens.get(*i).map_or(0, |t| t.line);
    let mut segments = prefix.to_vec();
    let written = |segments: Vec<String>| Written {
        segments,
        line,
        module: module.to_vec(),
    };
    loop {
        match text(*i) {
            "::" => *i += 1,
            "{" => {
                *i += 1;
                while !matches!(text(*i), "}" | "") {
                    let before = *i;
                    use_tree(tokens, i, &segments, module, out);
                    if text(*i) == "," || *i == before {
                        *i += 1;
                    }
                }
                *i += 1;
                break;
            }
            "*" => {
                *i += 1;
                out.push((written(segments), None));
                break;
            }
            name if is_ident(name) => {
                segments.push(name.to_string());
                *i += 1;
                if text(*i) == "::" {
                    continue;
                }
                let mut bound = segments.last().cloned();
                if segments.len() > 1 && bound.as_deref() == Some("self") {
                    segments.pop();
                    bound = segments.last().cloned();
                }
                if text(*i) == "as" {
                    bound = Some(text(*i + 1).to_string());
                    *i += 2;
                }
                out.push((written(segments), bound));
                break;
            }
            _ => break,
        }
    }
}

/// Skips the item after a `#[cfg(test)]` ending at `i` (its other attributes, then up to the
/// end of its block or its `;`); records `mod name;` as a test-only module. Returns the index
/// after it.
fn skip_test_item(tokens: &[Token], mut i: usize, module: &[String], parsed: &mut Parsed) -> usize {
    let text = |k: usize| tokens.get(k).map_or("", |t| t.text.as_str());
    let (mut depth, start) = (0usize, i);
    while i < tokens.len() {
        match text(i) {
            "mod" if depth == 0 && is_ident(text(i + 1)) && text(i + 2) == ";" => {
                parsed
                    .test_modules
                    .push([module, &[text(i + 1).to_string()]].concat());
            }
            "{" | "(" | "[" => depth += 1,
            "}" | ")" | "]" if depth == 0 => return i,
            close @ ("}" | ")" | "]") => {
                depth -= 1;
                if depth == 0 && close == "}" {
                    return i + 1;
                }
            }
            ";" if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<String> {
        tokens(source).into_iter().map(|token| token.text).collect()
    }

    fn tree(files: &[(&str, &str)]) -> Tree {
        let sources = files.iter().map(|(f, t)| (f.to_string(), t.to_string()));
        Tree::from_sources(sources.collect()).unwrap()
    }

    /// Each edge as `from:line -> to (path)`.
    fn edges(tree: &Tree) -> Vec<String> {
        let shown = tree
            .edges()
            .into_iter()
            .map(|e| format!("{}:{} -> {} ({})", e.from, e.line, e.to, e.path));
        shown.collect()
    }

    #[test]
    fn tokens_drop_comments_and_literals_and_keep_lines() {
        let source = "a // crate::x\n/* crate::y /* nested */ still */ b\n\"crate::z \\\" q\" \
                      r#\"crate::\"w\"# b'\\'' '\"' c\n'a: loop {} fn f<'b>() {} r#type x::y";
        assert_eq!(
            texts(source),
            [
                "a", "b", "\"", "\"", "\"", "\"", "c", "'", ":", "loop", "{", "}", "fn", "f", "<",
                "'", ">", "(", ")", "{", "}", "type", "x", "::", "y"
            ]
        );
        let lines: Vec<usize> = tokens("a\n/* \n */ b\n\"x\ny\" c")
            .iter()
            .map(|t| t.line)
            .collect();
        assert_eq!(lines, [1, 3, 4, 5]);
    }

    #[test]
    fn use_trees_are_flattened_into_leaves_with_their_lines() {
        let source =
            "pub(crate) use crate::{\n    a::X,\n    b::{self, Y as Z, c::*},\n};\nuse super::d;";
        let parsed = parse(&tokens(source), &["m".to_string()]);
        let leaves: Vec<String> = (parsed.uses.iter())
            .map(|leaf| {
                format!(
                    "{}:{} {:?} {}",
                    leaf.path.line,
                    leaf.path.segments.join("::"),
                    leaf.name,
                    leaf.public
                )
            })
            .collect();
        assert_eq!(
            leaves,
            [
                "2:crate::a::X Some(\"X\") true",
                "3:crate::b Some(\"b\") true",
                "3:crate::b::Y Some(\"Z\") true",
                "3:crate::b::c None true",
                "5:super::d Some(\"d\") false",
            ]
        );
    }

    #[test]
    fn paths_resolve_to_the_file_defining_them_through_re_exports() {
        let tree = tree(&[
            (
                "lib.rs",
                "\
mod engine;
mod app;
pub use engine::Session;
#[macro_export]
macro_rules! roles { () => {} }
",
            ),
            (
                "app.rs",
                "\
use crate::engine::{Session, Link as L, Config};
use crate::Session as S;
crate::roles!();
fn f() -> crate::engine::wire::Frame { std::mem::take(x) }
",
            ),
            (
                "engine/mod.rs",
                "\
mod session;
mod wire;
pub use session::Session;
pub use self::wire::*;
pub struct Config;
fn g() { wire::Link::new() }
",
            ),
            (
                "engine/session.rs",
                "use super::{Config, super::app::run};\npub struct Session;\n",
            ),
            (
                "engine/wire.rs",
                "\
pub struct Link;
pub struct Frame;
#[cfg(test)]
mod tests { use crate::app::run; }
",
            ),
        ]);
        assert_eq!(
            edges(&tree),
            [
                "app.rs:1 -> engine/mod.rs (crate::engine::Config)",
                "app.rs:1 -> engine/session.rs (crate::engine::Session)",
                "app.rs:1 -> engine/wire.rs (crate::engine::Link)",
                "app.rs:2 -> engine/session.rs (crate::Session)",
                "app.rs:4 -> engine/wire.rs (crate::engine::wire::Frame)",
                "engine/mod.rs:6 -> engine/wire.rs (wire::Link::new)",
                "engine/session.rs:1 -> app.rs (super::super::app::run)",
                "engine/session.rs:1 -> engine/mod.rs (super::Config)",
            ]
        );
    }

    #[test]
    fn files_map_to_modules_and_test_only_files_are_left_out() {
        assert_eq!(module_of("lib.rs"), Vec::<String>::new());
        assert_eq!(module_of("lang/mod.rs"), ["lang"]);
        assert_eq!(module_of("lang/checkpoint.rs"), ["lang", "checkpoint"]);
        let tree = tree(&[
            ("lib.rs", "#[cfg(test)]\nmod testkit;\nmod a;"),
            ("a.rs", ""),
            ("testkit.rs", ""),
        ]);
        assert_eq!(tree.files, ["a.rs", "lib.rs"]);
        let both = Tree::from_sources(
            [("a.rs", ""), ("a/mod.rs", "")]
                .map(|(f, t)| (f.into(), t.into()))
                .into(),
        );
        assert!(
            both.unwrap_err()
                .contains("a.rs and a/mod.rs are both module `a`")
        );
    }
}
