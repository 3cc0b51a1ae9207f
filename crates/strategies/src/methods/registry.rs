//! The registry of methods: their names (the values of `--methods`), one line of help each, how each is built on
//! a backbone, and the published numbers each is set beside, every number with its source. Adding a method is
//! one file in `methods/` and one line in [`REGISTRY`].

use super::{cdan, dann, dann_alt, source_only, target_only};
use super::{BuildContext, DataNeeds, Method};
use crate::StrategyError;
use std::{fmt, str::FromStr};

/// A published target accuracy: the task (`mnist:mnist-m`), the number, and where it is printed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Published {
    pub task: &'static str,
    pub accuracy: f64,
    pub source: &'static str,
}

/// One registered method.
#[derive(Debug)]
pub struct MethodInfo {
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    pub data: DataNeeds,
    pub build: fn(&BuildContext) -> Box<dyn Method>,
    /// Numbers from the literature under this method's protocol; none is borrowed from a neighbour.
    pub published: &'static [Published],
}

/// Every method, in the order tables list them: one line per method.
pub static REGISTRY: &[&MethodInfo] = &[
    &source_only::INFO,
    &dann::INFO,
    &dann_alt::INFO,
    &cdan::INFO,
    &cdan::INFO_E,
    &target_only::INFO,
];

/// A registered method's name: parsed from `--methods` and configuration files, saved as the plain name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodName(&'static str);

impl MethodName {
    pub const SOURCE_ONLY: Self = Self("source-only");
    pub const DANN: Self = Self("dann");
    pub const TARGET_ONLY: Self = Self("target-only");

    /// Every registered method, in table order.
    pub fn all() -> impl Iterator<Item = Self> {
        REGISTRY.iter().map(|m| Self(m.name))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    pub fn info(self) -> &'static MethodInfo {
        REGISTRY
            .iter()
            .copied()
            .find(|m| m.name == self.0)
            .expect("a MethodName is only made from a registry entry")
    }

    /// The method built on the backbone in `ctx` (its networks join the backbone's variables).
    pub fn build(self, ctx: &BuildContext) -> Box<dyn Method> {
        (self.info().build)(ctx)
    }

    /// The published number for `task`, where there is one.
    pub fn published(self, task: &str) -> Option<&'static Published> {
        self.info().published.iter().find(|p| p.task == task)
    }

    /// The data the method trains on.
    pub fn data(self) -> DataNeeds {
        self.info().data
    }

    /// The names, comma-separated (for messages).
    pub fn known() -> String {
        REGISTRY.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Debug for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for MethodName {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        REGISTRY
            .iter()
            .find(|m| m.name == s.trim())
            .map(|m| Self(m.name))
            .ok_or_else(|| StrategyError::Invalid {
                field: "methods".into(),
                msg: format!("unknown method `{s}` (known: {})", Self::known()),
            })
    }
}

impl serde::Serialize for MethodName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MethodName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: StrategyError| serde::de::Error::custom(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_constants_are_registered() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        for c in [MethodName::SOURCE_ONLY, MethodName::DANN, MethodName::TARGET_ONLY] {
            assert_eq!(c.info().name, c.as_str());
        }
    }

    #[test]
    fn parsing_round_trips_and_unknown_names_are_refused_with_the_list() {
        for m in MethodName::all() {
            assert_eq!(m.as_str().parse::<MethodName>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{m}\""));
            assert_eq!(serde_json::from_str::<MethodName>(&json).unwrap(), m);
        }
        let e = "cdan-x".parse::<MethodName>().unwrap_err().to_string();
        assert!(
            e.contains("`methods`") && e.contains("cdan-x") && e.contains("cdan-e"),
            "{e}"
        );
        assert!(serde_json::from_str::<MethodName>("\"nope\"").is_err());
    }

    #[test]
    fn published_numbers_name_their_source_and_none_is_borrowed() {
        let dann = MethodName::DANN.published("mnist:mnist-m").unwrap();
        assert_eq!(
            (dann.accuracy, dann.source),
            (0.7666, "Ganin et al., JMLR 2016, Table 2")
        );
        for name in ["dann-alt", "cdan", "cdan-e"] {
            let m: MethodName = name.parse().unwrap();
            assert!(m.published("mnist:mnist-m").is_none(), "{name}");
        }
    }
}
