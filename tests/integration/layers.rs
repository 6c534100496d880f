//! The shape of the house: imports only go down the layers `src/lib.rs` draws, no module imports
//! one that (directly or not) imports it back, no check imports another, every check has the
//! same four parts, and no source file grows past the size a newcomer can read at once.
//!
//! `src/` is parsed with `syn`; an edge is every `use` of a crate path and every `crate::`,
//! `super::` or `self::` path in code, from the file module it is written in to the file module
//! it names. Test code (`#[cfg(test)]` items) is left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The layers, bottom first: a module may import its own layer's modules and those below.
const LAYERS: &[&[&str]] = &[
    &["core", "yaml"],
    &["dane", "tlsrpt"],
    &["dns", "smtp", "tls"],
    &["checks"],
    &["target", "report", "history"],
    &["probe", "tlsa"],
    &["metrics", "text", "logging"],
    &["store", "database"],
    &["scheduler"],
    &["web"],
    &["config"],
    &["exporter", "retained", "ingest"],
    &["demo", "cli"],
];

/// The four parts every check folder has.
const CHECK_PARTS: &[&str] = &["run.rs", "judge.rs", "series.rs", "text.rs"];

/// Most lines of code (test modules not counted) in one source file.
const MAX_LINES: usize = 500;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every file module of the library: module path (`checks::mx::run`) -> file.
fn file_modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_stem()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let join = |name: &str| {
                if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}::{name}")
                }
            };
            if path.is_dir() {
                walk(&path, &join(name), out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                // Files of tests only (`#[cfg(test)] mod tests;`, `#[path = "x_tests.rs"]`).
                if name == "tests" || name.ends_with("_tests") {
                    continue;
                }
                let module = match name {
                    "mod" | "lib" => prefix.to_string(),
                    "main" if prefix.is_empty() => continue,
                    other => join(other),
                };
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&src(), "", &mut out);
    out
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

/// Collects the crate paths one file's code names, each resolved to absolute segments.
struct Collector {
    /// The module the code being visited is in (the file's, or an inline module inside it).
    module: Vec<String>,
    /// Absolute paths named.
    paths: Vec<Vec<String>>,
}

impl Collector {
    /// `segments` as written, resolved against the current module; `None` for paths that do not
    /// start at the crate (`std::`, external crates, local names).
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.module.clone(),
            "super" => {
                let mut base = self.module.clone();
                base.pop();
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            _ => return None,
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn add(&mut self, segments: Vec<String>) {
        if let Some(path) = self.resolve(&segments) {
            self.paths.push(path);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.add(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.add(full);
            }
            syn::UseTree::Glob(_) => self.add(prefix.clone()),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item);
                }
            }
        }
    }

    fn items(&mut self, items: &[syn::Item]) {
        for item in items {
            let attrs = match item {
                syn::Item::Use(i) => &i.attrs,
                syn::Item::Mod(i) => &i.attrs,
                syn::Item::Fn(i) => &i.attrs,
                syn::Item::Impl(i) => &i.attrs,
                syn::Item::Struct(i) => &i.attrs,
                syn::Item::Enum(i) => &i.attrs,
                syn::Item::Const(i) => &i.attrs,
                syn::Item::Static(i) => &i.attrs,
                syn::Item::Trait(i) => &i.attrs,
                syn::Item::Type(i) => &i.attrs,
                syn::Item::Macro(i) => &i.attrs,
                _ => continue,
            };
            if is_cfg_test(attrs) {
                continue;
            }
            match item {
                syn::Item::Use(u) => self.use_tree(&mut Vec::new(), &u.tree),
                syn::Item::Mod(m) => {
                    if let Some((_, inner)) = &m.content {
                        self.module.push(m.ident.to_string());
                        self.items(inner);
                        self.module.pop();
                    }
                }
                other => self.visit_item(other),
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.add(segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }
}

/// The file module a path lands in: its longest prefix that is one.
fn target_of(path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

/// Edges between file modules: from -> to (self-edges left out).
fn edges(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in modules {
        let text = std::fs::read_to_string(file).expect("read source");
        let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut collector = Collector {
            module: module
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            paths: Vec::new(),
        };
        collector.items(&parsed.items);
        let out = edges.entry(module.clone()).or_default();
        for path in collector.paths {
            if let Some(target) = target_of(&path, modules) {
                if &target != module && !target.is_empty() {
                    out.insert(target);
                }
            }
        }
    }
    edges
}

fn layer_of(module: &str) -> Option<usize> {
    let unit = module.split("::").next().unwrap_or_default();
    LAYERS.iter().position(|layer| layer.contains(&unit))
}

/// One cycle through `edges`, if there is one (depth-first search, three colours).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
                1 => {
                    let start = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn imports_go_down_and_nothing_imports_itself_back() {
    let modules = file_modules();
    let edges = edges(&modules);
    let mut problems = Vec::new();
    for module in modules.keys().filter(|m| !m.is_empty()) {
        if layer_of(module).is_none() {
            problems.push(format!(
                "{module} is in no layer of LAYERS (and of src/lib.rs's map)"
            ));
        }
    }
    for (from, targets) in &edges {
        for to in targets {
            let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) else {
                continue;
            };
            if b > a {
                problems.push(format!("{from} imports {to}, a layer above it"));
            }
            let check = |m: &str| {
                m.strip_prefix("checks::")
                    .and_then(|rest| rest.split("::").next())
                    .map(str::to_string)
            };
            if let (Some(x), Some(y)) = (check(from), check(to)) {
                if x != y {
                    problems.push(format!(
                        "{from} imports {to}: a check imports another check"
                    ));
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        problems.push(format!("module cycle: {}", cycle.join(" -> ")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The guard itself sees what it must: an upward edge and a cycle in a made-up graph, and the
/// edges of a file written with every path form.
#[test]
fn the_guard_sees_upward_imports_and_cycles() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert!(layer_of("config::reader") > layer_of("core::facts"));

    let modules: BTreeMap<String, PathBuf> =
        ["", "checks", "checks::mx", "checks::mx::run", "core"]
            .iter()
            .map(|m| (m.to_string(), PathBuf::new()))
            .collect();
    let code = r#"
        use super::judge::MxJudgement;
        use crate::core::{Finding, sink::join};
        fn f() { let _ = crate::checks::mx::run::g(); super::super::x(); }
        #[cfg(test)]
        mod tests { use crate::config::Config; }
    "#;
    let mut collector = Collector {
        module: vec!["checks".into(), "mx".into(), "run".into()],
        paths: Vec::new(),
    };
    collector.items(&syn::parse_file(code).expect("parse").items);
    let targets: BTreeSet<String> = collector
        .paths
        .iter()
        .filter_map(|p| target_of(p, &modules))
        .collect();
    assert_eq!(
        targets,
        ["checks", "checks::mx", "checks::mx::run", "core"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

#[test]
fn every_check_has_the_same_four_parts() {
    let checks = src().join("checks");
    let mut folders = 0;
    for entry in std::fs::read_dir(&checks).expect("read src/checks") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
            continue;
        }
        folders += 1;
        for part in CHECK_PARTS {
            assert!(
                path.join(part).is_file(),
                "{} has no {part}",
                path.display()
            );
        }
    }
    assert!(folders >= 6, "{folders} check folders");
}

#[test]
fn the_layout_map_names_every_module() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("read lib.rs");
    let map: String = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    for layer in LAYERS {
        for unit in *layer {
            assert!(
                map.contains(unit),
                "src/lib.rs's layout map does not name {unit}"
            );
            assert!(
                lib.contains(&format!("mod {unit};")),
                "src/lib.rs declares no module {unit}"
            );
        }
    }
    let checks = std::fs::read_to_string(src().join("checks/mod.rs")).expect("read");
    for entry in std::fs::read_dir(src().join("checks")).expect("read src/checks") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            assert!(
                map.contains(name),
                "src/lib.rs's layout map does not name check {name}"
            );
            assert!(
                checks.contains(&format!("pub mod {name};")),
                "checks/mod.rs lacks {name}"
            );
        }
    }
}

#[test]
fn no_source_file_is_longer_than_a_newcomer_reads_at_once() {
    let mut long = Vec::new();
    for file in file_modules().values() {
        let text = std::fs::read_to_string(file).expect("read source");
        // Code only: a test module at the end of a file, or a file of tests, does not count.
        let code = text.split("\n#[cfg(test)]").next().unwrap_or_default();
        let lines = code.lines().count();
        if lines > MAX_LINES {
            long.push(format!("{}: {lines} lines", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines: {}",
        long.join(", ")
    );
}
