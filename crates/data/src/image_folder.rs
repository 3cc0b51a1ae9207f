//! A researcher's own domain as an image folder (torchvision's ImageFolder layout, that of Office-31's domains):
//! one sub-folder per class with its images inside, or, for an unlabelled target, the images alone.
//!
//! Every file is checked to be a JPEG or PNG by its first bytes when the folder is listed, so a stray file is
//! named before training starts, not halfway through an epoch. Hidden files (a leading `.`, such as macOS's
//! `.DS_Store`) are skipped.

use crate::error::DataError;
use crate::office31::ImageList;
use std::path::{Path, PathBuf};

/// A listed image folder: its classes (the sub-folders' names, sorted, as ImageFolder numbers them) and its
/// images with their class numbers; an unlabelled folder has no classes and every label is -1.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    pub root: PathBuf,
    pub classes: Vec<String>,
    pub list: ImageList,
}

impl ImageFolder {
    pub fn is_labelled(&self) -> bool {
        !self.classes.is_empty()
    }
}

/// Lists `root`: labelled when it holds class sub-folders (each with at least one image, and no images beside
/// them), unlabelled when it holds images and no sub-folders.
pub fn list_image_folder(root: &Path) -> Result<ImageFolder, DataError> {
    if !root.is_dir() {
        return Err(DataError::format(
            root,
            "not a folder (an image folder holds one sub-folder per class)",
        ));
    }
    let (dirs, files) = entries(root)?;
    let mut list = ImageList::default();
    if dirs.is_empty() {
        if files.is_empty() {
            return Err(DataError::format(root, "holds no class folders and no images"));
        }
        for f in &files {
            check_image(f)?;
        }
        list.labels = vec![-1; files.len()];
        list.paths = files;
        return Ok(ImageFolder {
            root: root.to_path_buf(),
            classes: Vec::new(),
            list,
        });
    }
    if let Some(f) = files.first() {
        return Err(DataError::format(
            f,
            "a file beside the class folders (an image folder holds only class sub-folders, or only images)",
        ));
    }
    let mut classes = Vec::with_capacity(dirs.len());
    for (label, dir) in dirs.iter().enumerate() {
        let (sub, images) = entries(dir)?;
        if let Some(s) = sub.first() {
            return Err(DataError::format(
                s,
                "a folder inside a class folder (classes are one level deep)",
            ));
        }
        if images.is_empty() {
            return Err(DataError::format(dir, "class folder holds no images"));
        }
        for f in &images {
            check_image(f)?;
        }
        list.labels.extend(std::iter::repeat_n(label as i64, images.len()));
        list.paths.extend(images);
        classes.push(dir.file_name().unwrap_or_default().to_string_lossy().into_owned());
    }
    Ok(ImageFolder {
        root: root.to_path_buf(),
        classes,
        list,
    })
}

/// Refuses a labelled target whose classes differ from the source's, naming the classes on each side only.
pub fn check_same_classes(source: &ImageFolder, target: &ImageFolder) -> Result<(), DataError> {
    if !target.is_labelled() || source.classes == target.classes {
        return Ok(());
    }
    let only = |a: &ImageFolder, b: &ImageFolder| -> Vec<String> {
        a.classes.iter().filter(|c| !b.classes.contains(c)).cloned().collect()
    };
    Err(DataError::Invalid {
        what: format!("{} and {}", source.root.display(), target.root.display()),
        msg: format!(
            "the class folders differ: only in the source [{}], only in the target [{}]",
            only(source, target).join(", "),
            only(target, source).join(", ")
        ),
    })
}

/// The sub-folders and the files of `dir`, each sorted, hidden entries left out.
fn entries(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DataError> {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let path = entry.map_err(DataError::io(dir))?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            dirs.push(path);
        } else {
            files.push(path);
        }
    }
    dirs.sort();
    files.sort();
    Ok((dirs, files))
}

/// A JPEG or PNG by its first bytes (not by its name).
fn check_image(path: &Path) -> Result<(), DataError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(DataError::io(path))?;
    match image::guess_format(&head) {
        Ok(image::ImageFormat::Jpeg | image::ImageFormat::Png) => Ok(()),
        Ok(other) => Err(DataError::format(
            path,
            format!("a {other:?} image; shift reads JPEG and PNG images"),
        )),
        Err(_) => Err(DataError::format(path, "not an image (neither JPEG nor PNG)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(4, 3, image::Rgb([10, 20, 30]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn a_labelled_folder_lists_its_classes_in_order_and_an_unlabelled_one_its_images() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b/2.png", "b/1.png", "a/x.png"] {
            png(&dir.path().join("labelled").join(f));
        }
        std::fs::write(dir.path().join("labelled/a/.DS_Store"), "finder state").unwrap();
        let folder = list_image_folder(&dir.path().join("labelled")).unwrap();
        assert_eq!(folder.classes, ["a", "b"]);
        assert_eq!(folder.list.labels, [0, 1, 1]);
        let names: Vec<_> = folder
            .list
            .paths
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["x.png", "1.png", "2.png"]);
        png(&dir.path().join("plain/q.png"));
        png(&dir.path().join("plain/p.png"));
        let plain = list_image_folder(&dir.path().join("plain")).unwrap();
        assert!(!plain.is_labelled());
        assert_eq!(plain.list.labels, [-1, -1]);
    }

    #[test]
    fn bad_folders_are_refused_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = |p: &Path| list_image_folder(p).unwrap_err().to_string();
        assert!(err(&dir.path().join("none")).contains("not a folder"));
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        assert!(err(&dir.path().join("empty")).contains("no class folders and no images"));
        png(&dir.path().join("text/cat/ok.png"));
        std::fs::write(dir.path().join("text/cat/notes.jpg"), "not a picture").unwrap();
        let e = err(&dir.path().join("text"));
        assert!(e.contains("notes.jpg") && e.contains("not an image"), "{e}");
        std::fs::create_dir_all(dir.path().join("hollow/cat")).unwrap();
        png(&dir.path().join("hollow/dog/ok.png"));
        let e = err(&dir.path().join("hollow"));
        assert!(e.contains("hollow/cat") && e.contains("holds no images"), "{e}");
        png(&dir.path().join("mixed/cat/ok.png"));
        png(&dir.path().join("mixed/stray.png"));
        let e = err(&dir.path().join("mixed"));
        assert!(e.contains("stray.png") && e.contains("beside the class folders"), "{e}");
        png(&dir.path().join("deep/cat/more/ok.png"));
        assert!(err(&dir.path().join("deep")).contains("inside a class folder"));
        png(&dir.path().join("gif/cat/ok.png"));
        std::fs::write(dir.path().join("gif/cat/a.gif"), b"GIF89a\x02\x00\x02\x00\x00\x00\x00;").unwrap();
        let e = err(&dir.path().join("gif"));
        assert!(e.contains("a.gif") && e.contains("Gif image"), "{e}");
    }

    #[test]
    fn classes_must_match_unless_the_target_is_unlabelled() {
        let folder = |classes: &[&str]| ImageFolder {
            root: PathBuf::from(format!("/d/{}", classes.join(""))),
            classes: classes.iter().map(|c| c.to_string()).collect(),
            list: ImageList::default(),
        };
        check_same_classes(&folder(&["a", "b"]), &folder(&["a", "b"])).unwrap();
        check_same_classes(&folder(&["a", "b"]), &folder(&[])).unwrap();
        let e = check_same_classes(&folder(&["a", "b", "c"]), &folder(&["a", "d"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only in the source [b, c], only in the target [d]"), "{e}");
    }
}
