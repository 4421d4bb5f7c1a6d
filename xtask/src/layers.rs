//! `cargo xtask layers`: the runtime's files import each other in one direction only.
//!
//! `runtime/layers.toml` declares the layers, top first ([`Layers::parse`]); a file may import
//! from its own layer or any layer below it, and no files may import each other in a circle,
//! even within a layer. [`scan`] reads every `.rs` file under `runtime/src` and resolves its
//! `use crate::..`, `use super::..` and inline `crate::a::B` paths to the files they reach;
//! [`check`] then collects, as [`Findings`], the files in no layer (or in two), every circle
//! (a strongly connected component of files, shown with one concrete cycle) and every import
//! that goes up the order. `lib.rs` is the facade: its own imports are not checked, and
//! imports of it (root macros such as `crate::roles!`) are ignored. `#[cfg(test)]` items may
//! reach anywhere.

mod scan;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, Item};

use crate::{Failure, workspace_root};

/// The committed layer order, relative to the workspace root.
const LAYERS_FILE: &str = "runtime/layers.toml";

/// The sources it orders, relative to the workspace root.
const SOURCE_DIR: &str = "runtime/src";

/// What a layers file must look like, for error messages.
const EXPECTED: &str = "[[layer]] tables, top layer first, each with `name = \"...\"` and \
                        `paths = [\"folder/\", \"file.rs\", ...]` (relative to the source \
                        directory)";

/// `cargo xtask layers [--layers FILE] [--src DIR]`: checks the sources in `DIR` (default
/// `runtime/src`) against the order in `FILE` (default `runtime/layers.toml`) and prints what
/// it found; any problem is a [`Failure::Step`].
pub fn layers(args: &[String]) -> Result<(), Failure> {
    let (mut layers_file, mut src) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--layers" => &mut layers_file,
            "--src" => &mut src,
            other => {
                return Err(Failure::Usage(format!(
                    "unknown option `{other}` for `cargo xtask layers`; expected `--layers FILE` \
                     or `--src DIR`"
                )));
            }
        };
        let value = args.next().ok_or_else(|| {
            Failure::Usage(format!(
                "`{arg}` for `cargo xtask layers`: expected a path after it"
            ))
        })?;
        *slot = Some(PathBuf::from(value));
    }
    let root = workspace_root();
    let located = |given: Option<PathBuf>, default: &str| match given {
        Some(path) => (path.display().to_string(), path),
        None => (default.to_string(), root.join(default)),
    };
    let (layers_shown, layers_path) = located(layers_file, LAYERS_FILE);
    let (src_shown, src_path) = located(src, SOURCE_DIR);
    let text = std::fs::read_to_string(&layers_path).map_err(|error| {
        Failure::Step(format!(
            "cannot read {layers_shown}: {error}; expected the layer order: {EXPECTED}"
        ))
    })?;
    let layers = Layers::parse(&text, &layers_shown).map_err(Failure::Step)?;
    let findings = check(&src_path, &src_shown, &layers).map_err(Failure::Step)?;
    print!("{findings}");
    match findings.problems() {
        None => Ok(()),
        Some(summary) => Err(Failure::Step(format!("layers: {summary} (see above)"))),
    }
}

/// A layer: a name and the files and folders in it.
#[derive(Debug, PartialEq)]
struct Layer {
    /// Its name, e.g. `engine`.
    name: String,
    /// Files (`node.rs`) and folders (`engine/`) relative to the source directory.
    paths: Vec<String>,
}

/// The declared order of the layers, top first.
#[derive(Debug)]
struct Layers {
    /// The layers, top first.
    layers: Vec<Layer>,
    /// The file they were read from, as shown in messages.
    file: String,
}

impl Layers {
    /// Parses the text of layers file `file` (its name as shown in messages).
    fn parse(text: &str, file: &str) -> Result<Layers, String> {
        let doc = ImDocument::parse(text)
            .map_err(|error| format!("{file} is not valid TOML: {error}"))?;
        let at = |span: Option<Range<usize>>| match span {
            Some(span) => format!("{file}:{}", text[..span.start].matches('\n').count() + 1),
            None => file.to_string(),
        };
        if let Some((key, item)) = doc.iter().find(|(key, _)| *key != "layer") {
            return Err(format!(
                "{}: unknown key `{key}`; expected only {EXPECTED}",
                at(item.span())
            ));
        }
        let tables = (doc.get("layer").and_then(Item::as_array_of_tables))
            .ok_or_else(|| format!("{file}: no layers; expected {EXPECTED}"))?;
        let mut layers: Vec<Layer> = Vec::new();
        for (index, table) in tables.iter().enumerate() {
            let name = table.get("name").and_then(Item::as_str).unwrap_or("");
            let here = match name {
                "" => format!("{}: layer {}", at(table.span()), index + 1),
                name => format!("{}: layer {} `{name}`", at(table.span()), index + 1),
            };
            if let Some((key, _)) = table
                .iter()
                .find(|(key, _)| !["name", "paths"].contains(key))
            {
                return Err(format!(
                    "{here}: unknown key `{key}`; expected `name` and `paths`"
                ));
            }
            if name.trim().is_empty() || layers.iter().any(|layer| layer.name == name) {
                return Err(format!(
                    "{here}: expected `name = \"...\"`, a name no other layer has"
                ));
            }
            let expected_paths = "expected `paths = [\"folder/\", \"file.rs\", ...]`, a non-empty \
                                  array of folders (ending in `/`) and `.rs` files relative to the \
                                  source directory, `lib.rs` (the facade) excepted";
            let values = (table.get("paths").and_then(Item::as_array))
                .filter(|values| !values.is_empty())
                .ok_or_else(|| format!("{here}: {expected_paths}"))?;
            let mut paths = Vec::new();
            for value in values {
                let path = value.as_str().unwrap_or("");
                let relative = !path.starts_with('/')
                    && !path.split('/').any(|part| part == "." || part == "..");
                if !(relative && (path.ends_with('/') || path.ends_with(".rs")) && path != "lib.rs")
                {
                    return Err(format!(
                        "{here}: `{value}` in `paths`: {expected_paths}",
                        value = value.to_string().trim()
                    ));
                }
                if let Some(other) =
                    (layers.iter()).find(|layer| layer.paths.iter().any(|p| p == path))
                {
                    return Err(format!(
                        "{here}: `{path}` is already in layer `{}`; expected each path in one \
                         layer",
                        other.name
                    ));
                }
                paths.push(path.to_string());
            }
            layers.push(Layer {
                name: name.to_string(),
                paths,
            });
        }
        Ok(Layers {
            layers,
            file: file.to_string(),
        })
    }

    /// The indices of the layers `file` (relative to the source directory) is in.
    fn of(&self, file: &str) -> Vec<usize> {
        (0..self.layers.len())
            .filter(|&index| {
                self.layers[index]
                    .paths
                    .iter()
                    .any(|path| covers(path, file))
            })
            .collect()
    }

    /// The order, e.g. `run > lang > engine`.
    fn order(&self) -> String {
        let names: Vec<&str> = self
            .layers
            .iter()
            .map(|layer| layer.name.as_str())
            .collect();
        names.join(" > ")
    }
}

/// Whether layer path `path` (a folder ending in `/`, or a file) covers `file`.
fn covers(path: &str, file: &str) -> bool {
    if path.ends_with('/') {
        file.starts_with(path)
    } else {
        file == path
    }
}

/// What [`check`] found. The tree keeps its layers when every list but `notes` is empty.
#[derive(Debug, Default)]
struct Findings {
    /// The header: what was checked against what.
    header: String,
    /// Files that belong to no layer.
    unplaced: Vec<String>,
    /// Files that belong to more than one.
    overlaps: Vec<String>,
    /// Each circle: the files in it and one cycle through them, edge by edge.
    circles: Vec<String>,
    /// Imports that go up the order.
    violations: Vec<String>,
    /// Things worth knowing that fail nothing: layer paths that match no file.
    notes: Vec<String>,
    /// The last line when nothing is wrong.
    clean: String,
}

impl Findings {
    /// A one-line summary of the problems, if there are any.
    fn problems(&self) -> Option<String> {
        let count = |n: usize, one: &str, many: &str| match n {
            0 => None,
            1 => Some(format!("1 {one}")),
            n => Some(format!("{n} {many}")),
        };
        let parts: Vec<String> = [
            count(self.unplaced.len(), "file in no layer", "files in no layer"),
            count(
                self.overlaps.len(),
                "file in two layers",
                "files in two layers",
            ),
            count(
                self.circles.len(),
                "circle between files",
                "circles between files",
            ),
            count(
                self.violations.len(),
                "import against the layer order",
                "imports against the layer order",
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl fmt::Display for Findings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.header)?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        let problems = [
            &self.unplaced,
            &self.overlaps,
            &self.circles,
            &self.violations,
        ];
        for problem in problems.into_iter().flatten() {
            writeln!(f, "error: {problem}")?;
        }
        if self.problems().is_none() {
            writeln!(f, "{}", self.clean)?;
        }
        Ok(())
    }
}

/// Checks the sources under `src` (shown as `src_shown`) against `layers`.
fn check(src: &Path, src_shown: &str, layers: &Layers) -> Result<Findings, String> {
    let tree = scan::Tree::read(src)?;
    let edges = tree.edges();
    let files: Vec<&String> = tree.files.iter().filter(|file| *file != "lib.rs").collect();
    let shown = |file: &str| format!("{src_shown}/{file}");
    let order = layers.order();
    let mut findings = Findings {
        header: format!(
            "layers: {src_shown} against {} (order: {order})",
            layers.file
        ),
        clean: format!(
            "layers: ok: {} in {}, {} between them, no circle, none against the order",
            counted(files.len(), "file"),
            counted(layers.layers.len(), "layer"),
            counted(edges.len(), "import")
        ),
        ..Findings::default()
    };
    let mut layer_of = BTreeMap::new();
    for file in &files {
        match layers.of(file).as_slice() {
            [] => findings.unplaced.push(format!(
                "{} is in no layer; expected it in the `paths` of one layer of {}",
                shown(file),
                layers.file
            )),
            [one] => _ = layer_of.insert(file.as_str(), *one),
            many => {
                let names: Vec<&str> = many
                    .iter()
                    .map(|&i| layers.layers[i].name.as_str())
                    .collect();
                findings.overlaps.push(format!(
                    "{} is in layers {}; expected exactly one (see {})",
                    shown(file),
                    names.join(" and "),
                    layers.file
                ));
            }
        }
    }
    for layer in &layers.layers {
        for path in layer
            .paths
            .iter()
            .filter(|path| !files.iter().any(|file| covers(path, file)))
        {
            findings.notes.push(format!(
                "layer `{}`: `{path}` matches no file under {src_shown}",
                layer.name
            ));
        }
    }
    for edge in &edges {
        if let (Some(&from), Some(&to)) = (
            layer_of.get(edge.from.as_str()),
            layer_of.get(edge.to.as_str()),
        ) {
            if to < from {
                findings.violations.push(format!(
                    "{}:{} imports {}: layer {} may not depend on layer {} (order: {order})",
                    shown(&edge.from),
                    edge.line,
                    edge.path,
                    layers.layers[from].name,
                    layers.layers[to].name
                ));
            }
        }
    }
    for circle in circles(&files, &edges) {
        let names: Vec<&str> = circle.files.iter().map(|file| file.as_str()).collect();
        let path: Vec<&str> = (circle.cycle.iter().map(|edge| edge.from.as_str()))
            .chain(circle.cycle.first().map(|edge| edge.from.as_str()))
            .collect();
        let mut text = format!(
            "circle among {} files: {} ({} imports between them)\n    one cycle: {}",
            names.len(),
            names.join(", "),
            circle.imports,
            path.join(" -> ")
        );
        for edge in &circle.cycle {
            text.push_str(&format!(
                "\n      {}:{} imports {}",
                shown(&edge.from),
                edge.line,
                edge.path
            ));
        }
        findings.circles.push(text);
    }
    Ok(findings)
}

/// `1 file`, `2 files`.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A strongly connected component of more than one file.
struct Circle<'a> {
    /// Its files, sorted.
    files: Vec<&'a String>,
    /// How many imports go from one of its files to another.
    imports: usize,
    /// One cycle through its first file: each edge's `to` is the next edge's `from`.
    cycle: Vec<&'a scan::Edge>,
}

/// Every circle among `files` along `edges`.
fn circles<'a>(files: &[&'a String], edges: &'a [scan::Edge]) -> Vec<Circle<'a>> {
    // The first edge (lowest line) from each file to each other.
    let mut next: BTreeMap<&str, BTreeMap<&str, &scan::Edge>> = BTreeMap::new();
    for edge in edges {
        next.entry(&edge.from)
            .or_default()
            .entry(&edge.to)
            .or_insert(edge);
    }
    let reach = |start: &str| {
        let (mut seen, mut stack) = (BTreeSet::new(), vec![start]);
        while let Some(file) = stack.pop() {
            for &to in next.get(file).into_iter().flat_map(|out| out.keys()) {
                if seen.insert(to) {
                    stack.push(to);
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&str, BTreeSet<&str>> =
        files.iter().map(|f| (f.as_str(), reach(f))).collect();
    let mut placed = BTreeSet::new();
    let mut found = Vec::new();
    for &file in files {
        let members: Vec<&String> = (files.iter().copied())
            .filter(|other| {
                reached[file.as_str()].contains(other.as_str())
                    && reached[other.as_str()].contains(file.as_str())
            })
            .collect();
        if members.len() < 2 || !placed.insert(file) {
            continue;
        }
        placed.extend(members.iter().copied());
        let inside = |name: &str| members.iter().any(|member| member.as_str() == name);
        // Breadth first from `file` back to itself, within the circle: a shortest cycle.
        let mut came_by: BTreeMap<&str, &scan::Edge> = BTreeMap::new();
        let mut queue = VecDeque::from([file.as_str()]);
        while let Some(at) = queue.pop_front() {
            for (&to, &edge) in next
                .get(at)
                .into_iter()
                .flatten()
                .filter(|(to, _)| inside(to))
            {
                if !came_by.contains_key(to) {
                    came_by.insert(to, edge);
                    queue.push_back(to);
                }
            }
            if came_by.contains_key(file.as_str()) {
                break;
            }
        }
        let mut cycle = vec![came_by[file.as_str()]];
        while cycle[0].from != *file {
            cycle.insert(0, came_by[cycle[0].from.as_str()]);
        }
        let imports = edges
            .iter()
            .filter(|e| inside(&e.from) && inside(&e.to))
            .count();
        found.push(Circle {
            files: members,
            imports,
            cycle,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The layers of the synthetic trees, top first.
    const LAYERS: &str = r#"
[[layer]]
name = "app"
paths = ["app.rs"]

[[layer]]
name = "engine"
paths = ["engine/"]

[[layer]]
name = "base"
paths = ["base.rs"]
"#;

    /// A tree that keeps [`LAYERS`]: `app` uses `engine` through its facade, `engine` uses
    /// `base`, a root macro is called, `engine/session.rs` uses its folder's `mod.rs`.
    const CLEAN: &[(&str, &str)] = &[
        (
            "lib.rs",
            "pub mod app;\npub mod base;\npub mod engine;\npub use engine::Session;\n",
        ),
        (
            "app.rs",
            "\
use crate::engine::{
    Session,
    wire::Frame,
};
use crate::base::Id;
crate::roles!();
pub fn run() -> crate::base::Id { todo!() }
",
        ),
        (
            "engine/mod.rs",
            "\
pub mod session;
pub mod wire;
pub use session::Session;
pub struct Config(crate::base::Id);
",
        ),
        (
            "engine/session.rs",
            "use super::{Config, wire::Frame};\npub struct Session(Config, Frame);\n",
        ),
        ("engine/wire.rs", "pub struct Frame;\n"),
        ("base.rs", "pub struct Id;\n"),
    ];

    /// A source tree under a fresh temporary directory, removed when dropped.
    struct Sandbox(PathBuf);

    impl Sandbox {
        /// Writes `files` (path relative to the source directory, text) under `<dir>/src`.
        fn new(files: &[(&str, &str)]) -> Sandbox {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("xtask-layers-{}-{id}", std::process::id()));
            for (file, text) in files {
                let path = dir.join("src").join(file);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Sandbox(dir)
        }
    }

    impl Drop for Sandbox {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Checks `files` against `layers`.
    fn check_with(files: &[(&str, &str)], layers: &str) -> Findings {
        let sandbox = Sandbox::new(files);
        let layers = Layers::parse(layers, "layers.toml").unwrap();
        check(&sandbox.0.join("src"), "src", &layers).unwrap()
    }

    /// `CLEAN` with `changes` (a file's new text, or a new file), checked against [`LAYERS`].
    fn check_changed(changes: &[(&str, &str)]) -> Findings {
        let mut files: BTreeMap<&str, &str> = CLEAN.iter().copied().collect();
        files.extend(changes.iter().copied());
        check_with(&files.into_iter().collect::<Vec<_>>(), LAYERS)
    }

    #[test]
    fn a_clean_tree_passes() {
        let findings = check_changed(&[]);
        assert_eq!(findings.problems(), None, "{findings}");
        let shown = findings.to_string();
        let last = shown.lines().last().unwrap();
        assert_eq!(
            last,
            "layers: ok: 5 files in 3 layers, 7 imports between them, no circle, none against \
             the order"
        );
    }

    #[test]
    fn a_two_file_cycle_is_reported_with_its_path_and_lines() {
        let findings = check_changed(&[(
            "engine/wire.rs",
            "pub struct Frame;\n\nfn f(_: crate::engine::session::Session) {}\n",
        )]);
        assert_eq!(
            findings.problems().as_deref(),
            Some("1 circle between files")
        );
        assert_eq!(
            findings.circles,
            ["\
circle among 2 files: engine/session.rs, engine/wire.rs (2 imports between them)
    one cycle: engine/session.rs -> engine/wire.rs -> engine/session.rs
      src/engine/session.rs:1 imports super::wire::Frame
      src/engine/wire.rs:3 imports crate::engine::session::Session"]
        );
    }

    #[test]
    fn an_import_against_the_order_is_reported() {
        let findings = check_changed(&[(
            "base.rs",
            "pub struct Id;\nuse crate::engine::wire::Frame;\n",
        )]);
        assert_eq!(
            findings.violations,
            [
                "src/base.rs:2 imports crate::engine::wire::Frame: layer base may not depend on \
                 layer engine (order: app > engine > base)"
            ]
        );
        assert!(findings.circles.is_empty());
    }

    #[test]
    fn a_re_export_through_mod_rs_is_not_a_cycle() {
        // In `CLEAN`, session.rs uses mod.rs's `Config` while mod.rs re-exports session.rs's
        // `Session`: the re-export is no edge.
        let clean = check_changed(&[]);
        assert!(clean.circles.is_empty(), "{clean}");
        // wire.rs names `crate::engine::Session`, which mod.rs re-exports, while mod.rs really
        // uses wire.rs: wire.rs depends on session.rs, where `Session` is defined, not on mod.rs.
        let mod_rs = "pub mod session;\npub mod wire;\npub use session::Session;\n\
                      pub struct Config(crate::base::Id, wire::Frame);\n";
        let wire = "pub struct Frame;\nfn f(_: crate::engine::Session) {}\n";
        let through = check_changed(&[
            ("engine/mod.rs", mod_rs),
            ("engine/wire.rs", wire),
            ("engine/session.rs", "pub struct Session;\n"),
        ]);
        assert_eq!(through.problems(), None, "{through}");
        // Where mod.rs really uses session.rs, the circle is real.
        let mod_rs = "pub mod session;\npub mod wire;\npub struct Config(crate::base::Id);\n\
                      fn f() -> session::Session { todo!() }\n";
        let real = check_changed(&[("engine/mod.rs", mod_rs)]);
        assert_eq!(real.circles.len(), 1, "{real}");
        assert!(
            real.circles[0].contains("src/engine/mod.rs:4 imports session::Session"),
            "{real}"
        );
    }

    #[test]
    fn uses_in_cfg_test_modules_are_ignored() {
        let base = "\
pub struct Id;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::run;
    fn f() -> crate::engine::Config { todo!() }
}
";
        let findings = check_changed(&[
            ("base.rs", base),
            ("testkit.rs", "use crate::app::run;\n"),
            (
                "lib.rs",
                "pub mod app;\npub mod base;\npub mod engine;\n#[cfg(test)]\nmod testkit;\n",
            ),
        ]);
        assert_eq!(findings.problems(), None, "{findings}");
        // Outside the test module, the same import is an error.
        let outside = check_changed(&[("base.rs", "pub struct Id;\nuse crate::app::run;\n")]);
        assert_eq!(outside.violations.len(), 1, "{outside}");
    }

    #[test]
    fn a_file_in_no_layer_is_reported() {
        let findings = check_changed(&[("stray.rs", "pub fn lost() {}\n")]);
        assert_eq!(
            findings.unplaced,
            ["src/stray.rs is in no layer; expected it in the `paths` of one layer of layers.toml"]
        );
        let overlapping = LAYERS.replace(
            "paths = [\"base.rs\"]",
            "paths = [\"base.rs\", \"engine/wire.rs\"]",
        );
        let findings = check_with(CLEAN, &overlapping);
        assert_eq!(
            findings.overlaps,
            [
                "src/engine/wire.rs is in layers engine and base; expected exactly one (see \
                 layers.toml)"
            ]
        );
    }

    #[test]
    fn commented_out_imports_are_ignored() {
        let base = r##"//! Names [`crate::engine::Session`] in a doc comment.
// use crate::engine::Session;
/* use crate::engine::Session; /* nested */ crate::app::run */
/// See crate::app::run.
pub const USE: &str = "use crate::engine::Session; \" crate::app::run";
pub const RAW: &str = r#"crate::app::run "quoted" "#;
pub const QUOTE: char = '"';
pub struct Id<'a>(&'a str);
"##;
        let findings = check_changed(&[("base.rs", base)]);
        assert_eq!(findings.problems(), None, "{findings}");
        // The line after them still counts, with its own line number.
        let findings = check_changed(&[("base.rs", &format!("{base}use crate::app::run;\n"))]);
        assert_eq!(findings.violations.len(), 1, "{findings}");
        assert!(
            findings.violations[0].starts_with("src/base.rs:9 imports crate::app::run:"),
            "{findings}"
        );
    }

    #[test]
    fn a_malformed_layers_file_gives_a_clear_error() {
        let cases = [
            (
                "[[layer]\nname = \"a\"",
                "layers.toml is not valid TOML: TOML parse error at line 1",
            ),
            ("", "layers.toml: no layers; expected [[layer]] tables"),
            (
                "[[layers]]\nname = \"a\"\npaths = [\"a.rs\"]",
                "layers.toml:1: unknown key `layers`; expected only [[layer]] tables",
            ),
            (
                "[[layer]]\nname = \"a\"\npath = [\"a.rs\"]",
                "layers.toml:1: layer 1 `a`: unknown key `path`; expected `name` and `paths`",
            ),
            (
                "[[layer]]\npaths = [\"a.rs\"]",
                "layers.toml:1: layer 1: expected `name = \"...\"`, a name no other layer has",
            ),
            (
                "[[layer]]\nname = \"a\"\npaths = \"a.rs\"",
                "layer 1 `a`: expected `paths = [\"folder/\", \"file.rs\", ...]`",
            ),
            (
                "[[layer]]\nname = \"a\"\npaths = [\"a.rs\"]\n\
                 [[layer]]\nname = \"b\"\npaths = [\"../b.rs\"]",
                "layers.toml:4: layer 2 `b`: `\"../b.rs\"` in `paths`: expected",
            ),
            (
                "[[layer]]\nname = \"a\"\npaths = [\"a/\"]\n\
                 [[layer]]\nname = \"b\"\npaths = [\"a/\"]",
                "layer 2 `b`: `a/` is already in layer `a`",
            ),
        ];
        for (text, expected) in cases {
            let error = Layers::parse(text, "layers.toml").unwrap_err();
            assert!(
                error.contains(expected),
                "for {text:?}:\n  got {error}\n  expected {expected}"
            );
        }
    }

    #[test]
    fn the_command_reads_the_files_it_is_pointed_at() {
        let sandbox = Sandbox::new(CLEAN);
        let write = |name: &str, text: &str| {
            let path = sandbox.0.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let (good, bad) = (
            write("good.toml", LAYERS),
            write("bad.toml", "[[layer]]\nname = 3\n"),
        );
        let src = sandbox.0.join("src").display().to_string();
        let run =
            |layers_file: &str| layers(&["--layers", layers_file, "--src", &src].map(String::from));
        assert!(run(&good).is_ok());
        let error = |result| match result {
            Err(Failure::Step(message)) => message,
            other => panic!("expected a failed step, got {other:?}"),
        };
        assert!(error(run(&bad)).contains("bad.toml:1: layer 1: expected `name"));
        std::fs::write(sandbox.0.join("src/stray.rs"), "").unwrap();
        assert_eq!(error(run(&good)), "layers: 1 file in no layer (see above)");
        assert!(matches!(layers(&["--src".into()]), Err(Failure::Usage(_))));
        assert!(matches!(
            layers(&["--bogus".into()]),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn the_committed_layers_file_parses() {
        let text = std::fs::read_to_string(workspace_root().join(LAYERS_FILE)).unwrap();
        let layers = Layers::parse(&text, LAYERS_FILE).unwrap();
        assert_eq!(
            layers.order(),
            "run > lang > engine > observer > net > store > base"
        );
    }
}
