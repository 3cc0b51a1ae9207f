//! What the registry knows of a method ([`MethodInfo`]): its name, one line of help, the data it needs, how it is
//! built on a backbone, its hyper-parameters with their sources and rules ([`Param`]), and the published numbers
//! it is set beside, each with its source and protocol ([`Published`]).

use super::{BuildContext, DataNeeds, Method};
use crate::error::StrategyError;

/// A published target accuracy: the task (`mnist:mnist-m`), the number, where it is printed, and under which
/// protocol it was measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Published {
    pub task: &'static str,
    pub accuracy: f64,
    pub source: &'static str,
    pub protocol: Protocol,
}

/// Under which protocol a published number was measured: only [`Protocol::Paper`] numbers stand beside a row
/// as its published number; an [`Protocol::Other`] number is shown as not comparable, with what differs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The paper's own task, network and schedule, which shift's digit recipe follows.
    Paper,
    /// Another network or schedule; the text says what differs.
    Other(&'static str),
}

/// One registered method.
#[derive(Debug)]
pub struct MethodInfo {
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    pub data: DataNeeds,
    pub build: fn(&BuildContext) -> Result<Box<dyn Method>, StrategyError>,
    /// Numbers from the literature under this method's protocol; none is borrowed from a neighbour.
    pub published: &'static [Published],
    /// The method's hyper-parameters, set under `params.<method>.<name>` in a configuration (`--set`).
    pub params: &'static [Param],
}

/// A number from pytorch-domain-adaptation's README table (jvanvugt; MNIST -> MNIST-M), which its own network and
/// schedule measured: its source-only reads 0.33 there, against 0.5225 under the paper's protocol.
pub(crate) const fn pytorch_domain_adaptation(accuracy: f64) -> Published {
    Published {
        task: "mnist:mnist-m",
        accuracy,
        source: "jvanvugt/pytorch-domain-adaptation, README",
        protocol: Protocol::Other("its own network and schedule; its source-only reads 0.33"),
    }
}

/// A method's hyper-parameter: its key, its default and where the default comes from, and the rule a value must
/// meet.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub default: f64,
    /// The paper (and table or section) or the reference code the default comes from.
    pub source: &'static str,
    /// Whether a value is allowed, and the rule in words (`> 0`).
    pub valid: fn(f64) -> bool,
    pub rule: &'static str,
}

impl Param {
    /// A value that must be finite and > 0.
    pub const fn positive(name: &'static str, default: f64, source: &'static str) -> Self {
        Self {
            name,
            default,
            source,
            valid: |v| v.is_finite() && v > 0.0,
            rule: "> 0",
        }
    }

    /// A whole number from 1 to 65536 (a count of steps, a layer's width).
    pub const fn count(name: &'static str, default: f64, source: &'static str) -> Self {
        Self {
            name,
            default,
            source,
            valid: |v| v.fract() == 0.0 && (1.0..=65536.0).contains(&v),
            rule: "a whole number from 1 to 65536",
        }
    }

    /// A whole number from 0 to 65535 (a position: which task).
    pub const fn index(name: &'static str, default: f64, source: &'static str) -> Self {
        Self {
            name,
            default,
            source,
            valid: |v| v.fract() == 0.0 && (0.0..=65535.0).contains(&v),
            rule: "a whole number from 0 to 65535",
        }
    }

    /// A switch: 0 (off) or 1 (on).
    pub const fn flag(name: &'static str, default: f64, source: &'static str) -> Self {
        Self {
            name,
            default,
            source,
            valid: |v| v == 0.0 || v == 1.0,
            rule: "0 or 1",
        }
    }

    /// A value strictly between 0 and 1 (a share of the schedule where a method switches phase; a moving
    /// average's rate).
    pub const fn fraction(name: &'static str, default: f64, source: &'static str) -> Self {
        Self {
            name,
            default,
            source,
            valid: |v| v > 0.0 && v < 1.0,
            rule: "strictly between 0 and 1",
        }
    }

    /// A value that must be finite and >= 0.
    pub const fn non_negative(name: &'static str, default: f64, source: &'static str) -> Self {
        Self {
            name,
            default,
            source,
            valid: |v| v.is_finite() && v >= 0.0,
            rule: ">= 0",
        }
    }
}
