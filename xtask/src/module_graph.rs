//! The module graph of each crate in `crates/`: which module imports which, read from the `crate::` and `super::`
//! paths of its code (comment lines and `#[cfg(test)]` modules left out), with the names the crate root
//! re-exports resolved to the module that defines them. Its test holds every crate to two rules: no two modules
//! import each other, directly or through others, and no module imports through its own crate root's
//! re-exports (the facade is for other crates).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One crate's modules (`""` the root, `methods::registry`) and their code, and the root's re-exported names.
#[derive(Debug, Default)]
pub struct Crate {
    modules: BTreeMap<String, String>,
    reexports: BTreeMap<String, String>,
}

/// What breaks the rules in one crate: each cycle (its modules in order) and each import through the facade.
#[derive(Debug, Default, PartialEq)]
pub struct Findings {
    pub cycles: Vec<Vec<String>>,
    pub through_facade: Vec<String>,
}

/// The code of a source file: before its first `#[cfg(test)]`, without its comment lines.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Crate {
    /// Every `.rs` file under `src` as a module (`a/mod.rs` and `a.rs` are `a`, `lib.rs` and `main.rs` the root).
    pub fn load(src: &Path) -> std::io::Result<Self> {
        let mut c = Crate::default();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path.strip_prefix(src).unwrap_or(&path).with_extension("");
                    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                        parts.pop();
                    }
                    c.modules
                        .insert(parts.join("::"), code(&std::fs::read_to_string(&path)?));
                }
            }
        }
        c.reexports = c.root_reexports();
        Ok(c)
    }

    /// From a crate's sources given as (module, code) pairs (for tests).
    pub fn from_sources(sources: &[(&str, &str)]) -> Self {
        let mut c = Crate {
            modules: sources.iter().map(|(m, t)| (m.to_string(), code(t))).collect(),
            reexports: BTreeMap::new(),
        };
        c.reexports = c.root_reexports();
        c
    }

    /// The names the root's `pub use module::...;` lines re-export, with the module each comes from.
    fn root_reexports(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(root) = self.modules.get("") else {
            return out;
        };
        for stmt in root.split(';') {
            let Some(body) = stmt.trim().strip_prefix("pub use ") else {
                continue;
            };
            let (prefix, names) = match body.split_once("::{") {
                Some((p, rest)) => (p.trim(), rest.trim_end_matches('}').split(',').collect::<Vec<_>>()),
                None => match body.rsplit_once("::") {
                    Some((p, name)) => (p.trim(), vec![name]),
                    None => continue,
                },
            };
            let module = self.longest_module(&prefix.split("::").map(str::to_string).collect::<Vec<_>>());
            if module.is_empty() {
                continue;
            }
            for name in names {
                let name = name.trim().split(" as ").last().unwrap_or_default().trim();
                if !name.is_empty() {
                    out.insert(name.to_string(), module.clone());
                }
            }
        }
        out
    }

    /// The longest prefix of `path` that is a module ("" where none is).
    fn longest_module(&self, path: &[String]) -> String {
        (1..=path.len())
            .rev()
            .map(|i| path[..i].join("::"))
            .find(|m| self.modules.contains_key(m))
            .unwrap_or_default()
    }

    /// The modules `module` imports, and the names it takes through the root's re-exports.
    fn imports(&self, module: &str) -> (BTreeSet<String>, BTreeSet<String>) {
        let text = &self.modules[module];
        let own: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(str::to_string).collect()
        };
        let (mut edges, mut facade) = (BTreeSet::new(), BTreeSet::new());
        for path in paths(text) {
            let (base, rest) = match path.first().map(String::as_str) {
                Some("crate") => (Vec::new(), &path[1..]),
                Some("super") => {
                    let mut base = own.clone();
                    let mut rest = &path[..];
                    while rest.first().is_some_and(|s| s == "super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    (base, rest)
                }
                _ => continue,
            };
            let full: Vec<String> = base.iter().chain(rest).cloned().collect();
            let mut target = self.longest_module(&full);
            if target.is_empty() && base.is_empty() {
                if let Some(m) = full.first().and_then(|name| self.reexports.get(name)) {
                    if !module.is_empty() {
                        facade.insert(format!("crate::{}", full[0]));
                    }
                    target = m.clone();
                }
            }
            if target != module {
                edges.insert(target);
            }
        }
        (edges, facade)
    }

    /// The crate's cycles and facade imports.
    pub fn findings(&self) -> Findings {
        let mut graph = BTreeMap::new();
        let mut through_facade = Vec::new();
        for m in self.modules.keys() {
            let (edges, facade) = self.imports(m);
            through_facade.extend(facade.into_iter().map(|f| format!("{}: {f}", display(m))));
            graph.insert(m.clone(), edges);
        }
        Findings {
            cycles: cycles(&graph),
            through_facade,
        }
    }
}

fn display(module: &str) -> &str {
    if module.is_empty() {
        "(root)"
    } else {
        module
    }
}

/// Every `crate::...` and `super::...` path in `text` as its segments; a `{...}` group gives one path per item.
fn paths(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start).map(|i| i + from) {
            from = i + start.len();
            if i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':') {
                continue;
            }
            let mut segments = vec![start.trim_end_matches(':').to_string()];
            let mut j = from;
            loop {
                let end = j + text[j..].bytes().take_while(|&b| ident(b)).count();
                if end > j {
                    segments.push(text[j..end].to_string());
                }
                let group = if text[end..].starts_with("::{") {
                    Some(end + 3)
                } else if end == j && text[j..].starts_with('{') {
                    Some(j + 1)
                } else {
                    None
                };
                if let Some(open) = group {
                    let mut depth = 1;
                    let mut close = open;
                    for (k, b) in text[open..].bytes().enumerate() {
                        depth += i32::from(b == b'{') - i32::from(b == b'}');
                        if depth == 0 {
                            close = open + k;
                            break;
                        }
                    }
                    for item in split_top(&text[open..close]) {
                        let mut p = segments.clone();
                        p.extend(
                            item.split("::")
                                .map(|s| s.trim().trim_start_matches('{').to_string())
                                .take_while(|s| !s.is_empty() && s.bytes().all(ident)),
                        );
                        out.push(p);
                    }
                    segments.clear();
                    break;
                }
                if text[end..].starts_with("::") && end > j {
                    j = end + 2;
                } else {
                    break;
                }
            }
            if !segments.is_empty() {
                out.push(segments);
            }
        }
    }
    out
}

/// The comma-separated items of a `use` group, nested groups kept whole.
fn split_top(group: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, b) in group.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&group[start..]);
    out.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// The strongly connected components of more than one module (Tarjan), each from its first module in order.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                component.push(display(w).to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_and_an_import_through_the_facade_are_found() {
        let c = Crate::from_sources(&[
            (
                "",
                "pub mod a;\npub mod b;\npub mod c;\npub use c::{Thing, Other as O};\n",
            ),
            (
                "a",
                "use crate::b::{X, y::Z};\nuse crate::Thing;\n// use crate::c::Commented;\n",
            ),
            ("b", "use super::a::W;\nfn f() { super::c::g() }\n"),
            ("c", "pub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::T; }\n"),
        ]);
        let f = c.findings();
        assert_eq!(f.cycles, [vec!["a".to_string(), "b".to_string()]]);
        assert_eq!(f.through_facade, ["a: crate::Thing"]);
        let clean = Crate::from_sources(&[
            ("", "pub mod a;\npub mod b;\n"),
            ("a", "use crate::b::{X, Y};\n"),
            ("b", "pub struct X;\n"),
        ]);
        assert_eq!(clean.findings(), Findings::default());
    }

    /// The workspace's own crates keep both rules.
    #[test]
    fn no_crate_has_a_module_cycle_or_imports_through_its_own_facade() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
        let mut problems = Vec::new();
        for entry in std::fs::read_dir(&crates).unwrap() {
            let dir = entry.unwrap().path();
            let src = dir.join("src");
            if !src.is_dir() {
                continue;
            }
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let f = Crate::load(&src).unwrap();
            assert!(f.modules.len() > 1, "{name}: no modules read");
            let f = f.findings();
            problems.extend(f.cycles.iter().map(|c| format!("{name}: cycle {}", c.join(" <-> "))));
            problems.extend(
                f.through_facade
                    .iter()
                    .map(|p| format!("{name}: {p} (import it from its module)")),
            );
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
