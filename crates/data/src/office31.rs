//! Office-31 (Saenko et al., ECCV 2010): three domains of the same 31 office object classes,
//! laid out as `<domain>/images/<class>/*.jpg`.

use crate::error::DataError;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The 31 classes in canonical (alphabetical) order: the label of a class is its index here.
pub const CLASSES: [&str; 31] = [
    "back_pack",
    "bike",
    "bike_helmet",
    "bookcase",
    "bottle",
    "calculator",
    "desk_chair",
    "desk_lamp",
    "desktop_computer",
    "file_cabinet",
    "headphones",
    "keyboard",
    "laptop_computer",
    "letter_tray",
    "mobile_phone",
    "monitor",
    "mouse",
    "mug",
    "paper_notebook",
    "pen",
    "phone",
    "printer",
    "projector",
    "punchers",
    "ring_binder",
    "ruler",
    "scissors",
    "speaker",
    "stapler",
    "tape_dispenser",
    "trash_can",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Amazon,
    Dslr,
    Webcam,
}

impl Domain {
    pub fn folder(self) -> &'static str {
        match self {
            Self::Amazon => "amazon",
            Self::Dslr => "dslr",
            Self::Webcam => "webcam",
        }
    }

    /// Images in the full data set.
    pub fn size(self) -> usize {
        match self {
            Self::Amazon => 2817,
            Self::Dslr => 498,
            Self::Webcam => 795,
        }
    }

    pub fn letter(self) -> char {
        self.folder().chars().next().expect("non-empty").to_ascii_uppercase()
    }
}

impl FromStr for Domain {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "a" | "amazon" => Ok(Self::Amazon),
            "d" | "dslr" => Ok(Self::Dslr),
            "w" | "webcam" => Ok(Self::Webcam),
            _ => Err(DataError::Invalid {
                what: format!("Office-31 domain `{s}`"),
                msg: "expected A (amazon), D (dslr) or W (webcam)".into(),
            }),
        }
    }
}

/// Image files with their class labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageList {
    pub paths: Vec<PathBuf>,
    pub labels: Vec<i64>,
}

impl ImageList {
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// Lists one domain under `root` (the folder holding amazon/, dslr/, webcam/). Every one of the 31 class
/// folders must exist and hold at least one image; files are sorted so that the order is stable.
pub fn list_domain(root: &Path, domain: Domain) -> Result<ImageList, DataError> {
    let base = root.join(domain.folder()).join("images");
    if !base.is_dir() {
        return Err(DataError::NotDownloaded {
            path: base,
            command: "cargo xtask download office31".into(),
        });
    }
    let mut list = ImageList::default();
    for (label, class) in CLASSES.iter().enumerate() {
        let dir = base.join(class);
        if !dir.is_dir() {
            return Err(DataError::format(&dir, format!("class folder `{class}` is missing")));
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(DataError::io(&dir))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| ["jpg", "jpeg", "png"].iter().any(|x| e.eq_ignore_ascii_case(x)))
            })
            .collect();
        if files.is_empty() {
            return Err(DataError::format(
                &dir,
                format!("class folder `{class}` holds no images"),
            ));
        }
        files.sort();
        list.labels.extend(std::iter::repeat_n(label as i64, files.len()));
        list.paths.extend(files);
    }
    Ok(list)
}
