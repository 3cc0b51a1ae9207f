//! A researcher's own feature vectors: a source, a target and optionally a target test file, each CSV (a header
//! row, one example a row, the class in a label column, every other column a number) or svmlight. Class names
//! are read from the files; source and target must agree on the features and the target's classes must be the
//! source's. Every bad cell is refused, naming the file, the line and the column.

use crate::error::DataError;
use crate::svmlight::{self, SvmlightSpec};
use shift_tensor::tch::{Device, Tensor};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How the files are read: the CSV label column's name, and whether svmlight indices start at 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    pub label_column: String,
    pub zero_based: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            label_column: "label".into(),
            zero_based: false,
        }
    }
}

/// One file's examples: `rows x columns.len()` values, row-major, and each row's label as written (None for a
/// CSV without the label column: an unlabelled file).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorFile {
    pub path: PathBuf,
    /// The feature columns' names (CSV), or `1`, `2`, ... (svmlight, as its indices count).
    pub columns: Vec<String>,
    pub values: Vec<f32>,
    pub rows: usize,
    pub labels: Option<Vec<String>>,
    /// Each row's line in the file (1-based).
    pub lines: Vec<usize>,
    /// The name errors give the label's column.
    pub label_column: String,
}

/// A file's examples as the network reads them: the values `[N, width]` and the classes `[N]` (-1 throughout
/// when the file is unlabelled).
#[derive(Debug)]
pub struct Examples {
    pub x: Tensor,
    pub y: Tensor,
    pub labelled: bool,
}

/// A source, a target and a test set that agree on their features and classes.
#[derive(Debug)]
pub struct VectorPair {
    pub source: Examples,
    pub target: Examples,
    /// The target test file's examples, or the target's own when no test file was given; None when neither is
    /// labelled (the runs report no accuracy).
    pub test: Option<Examples>,
    /// Class `k` is `classes[k]` (the source's labels, in numeric order where every label is a number).
    pub classes: Vec<String>,
    pub width: usize,
}

/// The kind of a file, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Svmlight,
}

fn format_of(path: &Path) -> Result<Format, DataError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Ok(Format::Csv),
        Some("svm" | "svmlight" | "libsvm") => Ok(Format::Svmlight),
        _ => Err(DataError::format(
            path,
            "not a vector file: name it .csv (a header row, a label column) or .svm, .svmlight, .libsvm",
        )),
    }
}

/// Reads a CSV file: the header names the columns; `label_column` (when present) holds each row's class, every
/// other cell must be a finite number.
pub fn read_csv(path: &Path, label_column: &str) -> Result<VectorFile, DataError> {
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    parse_csv(&text, label_column)
        .map_err(|msg| DataError::format(path, msg))
        .map(|mut f| {
            f.path = path.to_path_buf();
            f
        })
}

/// [`read_csv`] on text in memory; an error says the line and the column.
pub fn parse_csv(text: &str, label_column: &str) -> Result<VectorFile, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err("line 1: no header row (give the columns' names, one of them the label column)".into());
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(format!("line 1: the column `{dup}` is named twice"));
    }
    let label_at = header.iter().position(|h| h == label_column);
    let columns: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != label_at)
        .map(|(_, h)| h.clone())
        .collect();
    if columns.is_empty() {
        return Err(format!(
            "line 1: no feature column beside the label column `{label_column}`"
        ));
    }
    let (mut values, mut labels, mut rows, mut lines) = (Vec::new(), Vec::new(), 0, Vec::new());
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() != header.len() {
            return Err(format!(
                "line {line}: {} cells, the header has {} (a ragged row)",
                record.len(),
                header.len()
            ));
        }
        for (i, cell) in record.iter().enumerate() {
            if Some(i) == label_at {
                if cell.is_empty() {
                    return Err(format!("line {line}, column `{}`: the label is empty", header[i]));
                }
                labels.push(cell.to_string());
                continue;
            }
            let v: f32 = cell.parse().map_err(|_| {
                let hint = if label_at.is_none() {
                    format!(" (no column is named `{label_column}`, the label column)")
                } else {
                    String::new()
                };
                format!("line {line}, column `{}`: `{cell}` is not a number{hint}", header[i])
            })?;
            if !v.is_finite() {
                return Err(format!(
                    "line {line}, column `{}`: `{cell}` is not a finite number",
                    header[i]
                ));
            }
            values.push(v);
        }
        rows += 1;
        lines.push(line as usize);
    }
    if rows == 0 {
        return Err("no example rows after the header".into());
    }
    Ok(VectorFile {
        path: PathBuf::new(),
        columns,
        values,
        rows,
        labels: label_at.map(|_| labels),
        lines,
        label_column: label_column.to_string(),
    })
}

/// The most values a task's dense matrix may hold (2 GiB of floats): an index past it is a typo, not a feature.
pub const MAX_VALUES: usize = 1 << 29;

/// What a scan of svmlight text finds: its labels in order of appearance, the width its widest index asks for,
/// the line of that index, and the line of each example (lines that do not parse are left to
/// [`svmlight::parse`] to refuse, by line).
struct Scan {
    labels: Vec<f64>,
    width: usize,
    widest_at: usize,
    lines: Vec<usize>,
}

fn scan_svmlight(text: &str, zero_based: bool) -> Scan {
    let mut scan = Scan {
        labels: Vec::new(),
        width: 0,
        widest_at: 0,
        lines: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        scan.lines.push(n + 1);
        let mut fields = content.split_whitespace();
        if let Some(label) = fields.next().and_then(|l| l.parse::<f64>().ok()) {
            if !scan.labels.contains(&label) {
                scan.labels.push(label);
            }
        }
        for index in fields.filter_map(|f| f.split_once(':')?.0.parse::<usize>().ok()) {
            let width = index.saturating_add(usize::from(zero_based));
            if width > scan.width {
                (scan.width, scan.widest_at) = (width, n + 1);
            }
        }
    }
    scan
}

/// Reads svmlight files as one width (the widest index over them all), each row's label written as a number.
fn read_svmlight(paths: &[&Path], zero_based: bool) -> Result<Vec<VectorFile>, DataError> {
    let texts = paths
        .iter()
        .map(|p| std::fs::read_to_string(p).map_err(DataError::io(*p)))
        .collect::<Result<Vec<_>, _>>()?;
    let scans: Vec<Scan> = texts.iter().map(|t| scan_svmlight(t, zero_based)).collect();
    let width = scans.iter().map(|s| s.width).max().unwrap_or(0);
    let rows: usize = scans.iter().map(|s| s.lines.len()).sum();
    if let Some((path, scan)) = paths.iter().zip(&scans).find(|(_, s)| s.width == width && width > 0) {
        if rows.saturating_mul(width) > MAX_VALUES {
            return Err(DataError::format(
                *path,
                format!(
                    "line {}: an index asks for {width} features, {rows} x {width} values over the task's files, \
                     more than the {MAX_VALUES} a dense matrix here may hold",
                    scan.widest_at
                ),
            ));
        }
    }
    paths
        .iter()
        .zip(&texts)
        .zip(scans)
        .map(|((path, text), scan)| {
            if scan.lines.is_empty() {
                return Err(DataError::format(*path, "no examples"));
            }
            if width == 0 {
                return Err(DataError::format(*path, "no INDEX:VALUE pair in any file of the task"));
            }
            // Where no label parsed, a label that matches none lets the reader say which line is wrong.
            let labels = if scan.labels.is_empty() {
                vec![f64::NAN]
            } else {
                scan.labels.clone()
            };
            let spec = SvmlightSpec {
                width,
                zero_based,
                labels: labels.clone(),
            };
            let sparse = svmlight::parse(text, &spec)
                .map_err(|(line, msg)| DataError::format(*path, format!("line {line}: {msg}")))?;
            Ok(VectorFile {
                path: path.to_path_buf(),
                columns: (1..=width).map(|i| i.to_string()).collect(),
                values: sparse.dense(),
                rows: sparse.len(),
                labels: Some(sparse.classes.iter().map(|&c| labels[c as usize].to_string()).collect()),
                lines: scan.lines,
                label_column: "label".into(),
            })
        })
        .collect()
}

/// Reads `source`, `target` and `test` (optional) and checks that they agree: the same feature columns, a
/// labelled source, a labelled test file, and no target or test label outside the source's classes.
pub fn load(source: &Path, target: &Path, test: Option<&Path>, opts: &ReadOptions) -> Result<VectorPair, DataError> {
    let paths: Vec<&Path> = [Some(source), Some(target), test].into_iter().flatten().collect();
    let formats = paths.iter().map(|p| format_of(p)).collect::<Result<Vec<_>, _>>()?;
    let svm: Vec<&Path> = paths
        .iter()
        .zip(&formats)
        .filter(|(_, f)| **f == Format::Svmlight)
        .map(|(p, _)| *p)
        .collect();
    let mut svm_files = read_svmlight(&svm, opts.zero_based)?.into_iter();
    let mut files = Vec::new();
    for (path, format) in paths.iter().zip(&formats) {
        files.push(match format {
            Format::Csv => read_csv(path, &opts.label_column)?,
            Format::Svmlight => svm_files.next().expect("one read file per svmlight path"),
        });
    }
    let mut files = files.into_iter();
    let (src, tgt) = (files.next().expect("a source"), files.next().expect("a target"));
    let tst = files.next();
    let Some(source_labels) = &src.labels else {
        return Err(DataError::format(
            &src.path,
            format!(
                "the source has no label column `{}` (name it with --set vectors.label_column=NAME)",
                opts.label_column
            ),
        ));
    };
    for other in [Some(&tgt), tst.as_ref()].into_iter().flatten() {
        if other.columns.len() != src.columns.len() {
            return Err(DataError::format(
                &other.path,
                format!(
                    "{} feature columns; the source {} has {}",
                    other.columns.len(),
                    src.path.display(),
                    src.columns.len()
                ),
            ));
        }
        let both_csv = format_of(&other.path)? == Format::Csv && format_of(&src.path)? == Format::Csv;
        if let Some((a, b)) = src.columns.iter().zip(&other.columns).find(|(a, b)| both_csv && a != b) {
            return Err(DataError::format(
                &other.path,
                format!(
                    "the column `{b}` stands where the source {} has `{a}`",
                    src.path.display()
                ),
            ));
        }
    }
    let classes = class_names(source_labels);
    let examples = |f: &VectorFile| -> Result<Examples, DataError> {
        let x = Tensor::from_slice(&f.values).view([f.rows as i64, f.columns.len() as i64]);
        let Some(labels) = &f.labels else {
            return Ok(Examples {
                x,
                y: Tensor::full([f.rows as i64], -1, (shift_tensor::tch::Kind::Int64, Device::Cpu)),
                labelled: false,
            });
        };
        if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| !classes.contains(l)) {
            let line = f.lines.get(i).copied().unwrap_or(0);
            return Err(DataError::format(
                &f.path,
                format!(
                    "line {line}, column `{}`: `{l}` is not a class of the source {} ({})",
                    f.label_column,
                    src.path.display(),
                    classes.join(", ")
                ),
            ));
        }
        let ys: Vec<i64> = labels
            .iter()
            .map(|l| classes.iter().position(|c| c == l).unwrap_or(0) as i64)
            .collect();
        Ok(Examples {
            x,
            y: Tensor::from_slice(&ys),
            labelled: true,
        })
    };
    let source_examples = examples(&src)?;
    let target_examples = examples(&tgt)?;
    let test = match &tst {
        Some(t) => {
            let e = examples(t)?;
            if !e.labelled {
                return Err(DataError::format(
                    &t.path,
                    format!("the test file has no label column `{}`", opts.label_column),
                ));
            }
            Some(e)
        }
        None if target_examples.labelled => Some(Examples {
            x: target_examples.x.shallow_clone(),
            y: target_examples.y.shallow_clone(),
            labelled: true,
        }),
        None => None,
    };
    if classes.len() < 2 {
        return Err(DataError::format(
            &src.path,
            format!("one class only ({}): a classifier needs two", classes.join(", ")),
        ));
    }
    Ok(VectorPair {
        source: source_examples,
        target: target_examples,
        test,
        width: src.columns.len(),
        classes,
    })
}

/// The distinct labels, in numeric order where every one is a number, else in text order.
fn class_names(labels: &[String]) -> Vec<String> {
    let mut names: Vec<String> = labels.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    if names.iter().all(|n| n.parse::<f64>().is_ok()) {
        names.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap_or(0.0)
                .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
        });
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_file_reads_its_header_labels_and_numbers() {
        let f = parse_csv("x1, label ,x2\n1.5,cat,2\n-3,dog,4e-1\n\n", "label").unwrap();
        assert_eq!(f.columns, ["x1", "x2"]);
        assert_eq!(f.values, [1.5, 2.0, -3.0, 0.4]);
        assert_eq!(f.rows, 2);
        assert_eq!(f.labels.unwrap(), ["cat", "dog"]);
        let unlabelled = parse_csv("a,b\n1,2\n", "label").unwrap();
        assert_eq!(unlabelled.labels, None);
    }

    #[test]
    fn every_bad_csv_cell_is_refused_naming_its_line_and_column() {
        for (text, says) in [
            ("a,label\n1,x\n2\n", "line 3: 1 cells, the header has 2 (a ragged row)"),
            (
                "a,b,label\n1,2,x\n1,two,y\n",
                "line 3, column `b`: `two` is not a number",
            ),
            ("a,label\nNaN,x\n", "line 2, column `a`: `NaN` is not a finite number"),
            ("a,label\ninf,x\n", "line 2, column `a`: `inf` is not a finite number"),
            ("a,label\n1,\n", "line 2, column `label`: the label is empty"),
            ("a,a,label\n1,2,x\n", "line 1: the column `a` is named twice"),
            (
                "label\nx\n",
                "line 1: no feature column beside the label column `label`",
            ),
            ("a,label\n", "no example rows after the header"),
        ] {
            assert_eq!(parse_csv(text, "label").unwrap_err(), says, "{text:?}");
        }
    }

    #[test]
    fn class_names_sort_numerically_where_every_label_is_a_number() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(class_names(&s(&["10", "9", "-1", "9"])), s(&["-1", "9", "10"]));
        assert_eq!(class_names(&s(&["b", "a", "10"])), s(&["10", "a", "b"]));
    }
}
