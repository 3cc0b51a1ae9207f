//! Methods by name: the values of `--methods` and of configuration files ([`MethodName`], parsed against the
//! registry that `methods/mod.rs` declares, [`super::REGISTRY`]), and a method with its hyper-parameters
//! ([`MethodSpec`]).

use super::{BuildContext, DataNeeds, Method, MethodInfo, Protocol, Published, REGISTRY};
use crate::error::StrategyError;
use std::{fmt, str::FromStr};

/// A method with its hyper-parameters: the registry's defaults, with the values a configuration sets.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSpec {
    pub name: MethodName,
    values: Vec<(&'static str, f64)>,
    /// The training domains the method's batches are blocks of (1 on a task with one source).
    domains: i64,
}

impl MethodSpec {
    /// Every hyper-parameter with its value (for config.json).
    pub fn values(&self) -> std::collections::BTreeMap<&'static str, f64> {
        self.values.iter().copied().collect()
    }

    /// `name` with `set` (key -> value) over its defaults; errors name `params.<method>.<key>` and the rule, or
    /// list the method's keys for a key it does not have.
    pub fn new(name: MethodName, set: &std::collections::BTreeMap<String, f64>) -> Result<Self, StrategyError> {
        let info = name.info();
        for (key, &value) in set {
            let field = format!("params.{name}.{key}");
            let Some(param) = info.params.iter().find(|p| p.name == key) else {
                let known: Vec<&str> = info.params.iter().map(|p| p.name).collect();
                return Err(StrategyError::Invalid {
                    field,
                    msg: if known.is_empty() {
                        format!("{name} has no hyper-parameters")
                    } else {
                        format!("{name} has no `{key}` (its keys: {})", known.join(", "))
                    },
                });
            };
            if !(param.valid)(value) {
                return Err(StrategyError::Invalid {
                    field,
                    msg: format!("must be {}, got {value}", param.rule),
                });
            }
        }
        let values = info
            .params
            .iter()
            .map(|p| (p.name, set.get(p.name).copied().unwrap_or(p.default)))
            .collect();
        Ok(Self {
            name,
            values,
            domains: 1,
        })
    }

    /// The same method on batches of `domains` training domains' blocks (domain generalisation).
    pub fn with_domains(self, domains: i64) -> Self {
        Self { domains, ..self }
    }

    /// The training domains the method's batches are blocks of.
    pub fn domains(&self) -> i64 {
        self.domains
    }

    /// The value of `key`, or an error naming the method and the key it does not declare.
    pub fn get(&self, key: &str) -> Result<f64, StrategyError> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, v)| v)
            .ok_or_else(|| StrategyError::Other(format!("{} declares no hyper-parameter `{key}`", self.name)))
    }
}

impl From<MethodName> for MethodSpec {
    /// The method with its defaults.
    fn from(name: MethodName) -> Self {
        Self {
            name,
            values: name.info().params.iter().map(|p| (p.name, p.default)).collect(),
            domains: 1,
        }
    }
}

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

    /// The method built on the backbone in `ctx` with `ctx`'s hyper-parameters (its networks join the
    /// backbone's variables).
    pub fn build(self, ctx: &BuildContext) -> Result<Box<dyn Method>, StrategyError> {
        (self.info().build)(ctx)
    }

    /// The published number for `task`, where there is one.
    pub fn published(self, task: &str) -> Option<&'static Published> {
        self.info()
            .published
            .iter()
            .find(|p| p.task == task && p.protocol == Protocol::Paper)
    }

    /// A number printed for this method on `task` under another protocol (its own network or schedule): shown
    /// beside the row as not comparable, never as the row's published number.
    pub fn reported_elsewhere(self, task: &str) -> Option<&'static Published> {
        self.info()
            .published
            .iter()
            .find(|p| p.task == task && matches!(p.protocol, Protocol::Other(_)))
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
    fn hyper_parameters_take_their_defaults_and_refuse_bad_keys_and_values() {
        let with = |name: &str, key: &str, v: f64| {
            let set = std::collections::BTreeMap::from([(key.to_string(), v)]);
            MethodSpec::new(name.parse().unwrap(), &set)
        };
        for info in REGISTRY {
            let spec = MethodSpec::from(MethodName(info.name));
            for p in info.params {
                assert!(
                    (p.valid)(p.default),
                    "{}.{}: the default meets its rule",
                    info.name,
                    p.name
                );
                assert!(!p.source.is_empty(), "{}.{} names its source", info.name, p.name);
                assert_eq!(spec.get(p.name).unwrap(), p.default);
                assert_eq!(with(info.name, p.name, p.default).unwrap(), spec);
                let e = with(info.name, p.name, f64::NAN).unwrap_err().to_string();
                assert!(
                    e.contains(&format!("params.{}.{}", info.name, p.name)) && e.contains(p.rule),
                    "{e}"
                );
            }
            let e = with(info.name, "nope", 1.0).unwrap_err().to_string();
            assert!(e.contains(&format!("params.{}.nope", info.name)), "{e}");
            assert!(spec.get("nope").unwrap_err().to_string().contains("`nope`"));
        }
    }

    #[test]
    fn published_numbers_name_their_source_and_none_is_borrowed() {
        let dann = MethodName::DANN.published("mnist:mnist-m").unwrap();
        assert_eq!(
            (dann.accuracy, dann.source),
            (0.7666, "Ganin et al., JMLR 2016, Table 2")
        );
        for name in [
            "dann-alt", "cdan", "cdan-e", "dan", "jan", "coral", "bnm", "mcc", "mdd", "dsan",
        ] {
            let m: MethodName = name.parse().unwrap();
            assert!(m.published("mnist:mnist-m").is_none(), "{name}");
            assert!(m.reported_elsewhere("mnist:mnist-m").is_none(), "{name}");
        }
        assert!(MethodName::DANN.reported_elsewhere("mnist:mnist-m").is_none());
    }

    #[test]
    fn numbers_of_another_protocol_are_never_the_published_number() {
        for (name, accuracy, source) in [
            ("adda", 0.76, "jvanvugt/pytorch-domain-adaptation, README"),
            ("wdgrl", 0.78, "jvanvugt/pytorch-domain-adaptation, README"),
            ("vada", 0.977, "Shu et al., ICLR 2018, Table 1"),
            ("dirt-t", 0.989, "Shu et al., ICLR 2018, Table 1"),
        ] {
            let m: MethodName = name.parse().unwrap();
            assert!(m.published("mnist:mnist-m").is_none(), "{name}");
            let other = m.reported_elsewhere("mnist:mnist-m").unwrap();
            assert_eq!((other.accuracy, other.source), (accuracy, source), "{name}");
            assert!(
                matches!(other.protocol, Protocol::Other(why) if !why.is_empty()),
                "{name}"
            );
            assert!(m.reported_elsewhere("office31:A-W").is_none(), "{name}");
        }
    }
}
