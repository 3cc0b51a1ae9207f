//! The Amazon reviews sentiment benchmark (Blitzer, Dredze & Pereira, ACL 2007) in the form Ganin et al. (JMLR
//! 2016, Section 5.1, Table 1) use: four product domains, each 2,000 labelled training reviews and a test file, as
//! 5,000 unigram and bigram counts in svmlight files (`<domain>_{train,test}.svmlight`, labels -1 / +1).

use crate::error::DataError;
use crate::svmlight::{self, Sparse, SvmlightSpec};
use std::path::Path;

/// The feature count of every file (the 5,000 most frequent unigrams and bigrams).
pub const FEATURES: usize = 5000;

/// One product domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    Books,
    Dvd,
    Electronics,
    Kitchen,
}

impl Domain {
    pub const ALL: [Domain; 4] = [Self::Books, Self::Dvd, Self::Electronics, Self::Kitchen];

    pub fn name(self) -> &'static str {
        match self {
            Self::Books => "books",
            Self::Dvd => "dvd",
            Self::Electronics => "electronics",
            Self::Kitchen => "kitchen",
        }
    }

    /// The twelve ordered pairs of Table 1, in its order (books -> dvd, books -> electronics, ...).
    pub fn pairs() -> Vec<(Domain, Domain)> {
        Self::ALL
            .iter()
            .flat_map(|&s| Self::ALL.iter().filter(move |&&t| t != s).map(move |&t| (s, t)))
            .collect()
    }
}

impl std::str::FromStr for Domain {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| DataError::Invalid {
                what: "Amazon reviews domain".into(),
                msg: format!("unknown domain `{s}` (known: books, dvd, electronics, kitchen)"),
            })
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one adaptation pair trains and tests on: the source's labelled training reviews, the target's training
/// reviews (their labels serve only `target-only`), and the target's test reviews.
#[derive(Debug, Clone)]
pub struct AmazonPair {
    pub source: Sparse,
    pub target: Sparse,
    pub test: Sparse,
}

/// The svmlight layout of the files: 0-based indices, 5,000 features, labels -1 (class 0) and +1 (class 1).
pub fn spec() -> SvmlightSpec {
    SvmlightSpec {
        width: FEATURES,
        zero_based: true,
        labels: vec![-1.0, 1.0],
    }
}

/// Loads `source -> target` from an installed `amazon_reviews` folder (`cargo xtask download amazon-reviews`).
pub fn load(folder: &Path, source: Domain, target: Domain) -> Result<AmazonPair, DataError> {
    crate::require_complete(folder, "amazon-reviews")?;
    let file = |d: Domain, split: &str| svmlight::read(&folder.join(format!("{d}_{split}.svmlight")), &spec());
    Ok(AmazonPair {
        source: file(source, "train")?,
        target: file(target, "train")?,
        test: file(target, "test")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_ordered_pairs_in_table_1s_order_and_names_both_ways() {
        let pairs = Domain::pairs();
        assert_eq!(pairs.len(), 12);
        assert_eq!(pairs[0], (Domain::Books, Domain::Dvd));
        assert_eq!(pairs[11], (Domain::Kitchen, Domain::Electronics));
        for d in Domain::ALL {
            assert_eq!(d.name().parse::<Domain>().unwrap(), d);
        }
        let e = "toys".parse::<Domain>().unwrap_err().to_string();
        assert_eq!(
            e,
            "Amazon reviews domain: unknown domain `toys` (known: books, dvd, electronics, kitchen)"
        );
    }

    #[test]
    fn an_uninstalled_folder_is_refused_with_the_download_command() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path(), Domain::Books, Domain::Dvd).unwrap_err().to_string();
        assert!(e.contains("cargo xtask download amazon-reviews"), "{e}");
    }
}
