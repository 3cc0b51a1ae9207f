//! svmlight / libsvm files (Joachims 1999: `<label> <index>:<value> ...`, one example a line, `#` comments): sparse
//! rows read against a declared width, index base and label set, into dense tensors.

use crate::error::DataError;
use shift_tensor::tch::{Device, Kind, Tensor};
use std::path::Path;

/// What a file must hold: its feature count, whether its indices start at 0 or 1, and its labels in class order
/// (class `k` is `labels[k]`; `[-1, 1]` makes -1 class 0 and +1 class 1).
#[derive(Debug, Clone, PartialEq)]
pub struct SvmlightSpec {
    pub width: usize,
    pub zero_based: bool,
    pub labels: Vec<f64>,
}

/// A file's examples: each row's `(column, value)` pairs (columns 0-based, increasing) and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparse {
    pub width: usize,
    pub rows: Vec<Vec<(usize, f32)>>,
    pub classes: Vec<i64>,
}

impl Sparse {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows as one dense row-major matrix, `len() x width`.
    pub fn dense(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows.len() * self.width];
        for (i, row) in self.rows.iter().enumerate() {
            for &(j, v) in row {
                out[i * self.width + j] = v;
            }
        }
        out
    }

    /// The examples as a dense float tensor `[N, width]` and their classes `[N]` (int64), on `device`.
    pub fn to_tensors(&self, device: Device) -> (Tensor, Tensor) {
        let x = Tensor::from_slice(&self.dense())
            .view([self.rows.len() as i64, self.width as i64])
            .to_kind(Kind::Float)
            .to_device(device);
        let y = Tensor::from_slice(&self.classes).to_device(device);
        (x, y)
    }
}

/// Reads `path` under `spec`. Blank lines and `#` comments are skipped; a malformed line, an index outside the
/// declared width or base, indices that do not increase, a value that is not a finite number, or a label outside
/// the declared set is refused, naming the file and the line.
pub fn read(path: &Path, spec: &SvmlightSpec) -> Result<Sparse, DataError> {
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    parse(&text, spec).map_err(|(line, msg)| DataError::format(path, format!("line {line}: {msg}")))
}

/// [`read`] on text already in memory; errors are the 1-based line and what is wrong.
pub fn parse(text: &str, spec: &SvmlightSpec) -> Result<Sparse, (usize, String)> {
    if spec.width == 0 || spec.labels.is_empty() {
        return Err((0, "the declared width and label set must not be empty".into()));
    }
    let base = usize::from(!spec.zero_based);
    let mut rows = Vec::new();
    let mut classes = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let mut fields = content.split_whitespace();
        let label_text = fields.next().unwrap_or_default();
        let label: f64 = label_text
            .parse()
            .map_err(|_| (line, format!("label `{label_text}` is not a number")))?;
        let class = spec.labels.iter().position(|&l| l == label).ok_or_else(|| {
            (
                line,
                format!(
                    "label `{label_text}` is not one of the declared labels {:?}",
                    spec.labels
                ),
            )
        })?;
        let mut row: Vec<(usize, f32)> = Vec::new();
        for field in fields {
            let Some((index, value)) = field.split_once(':') else {
                return Err((line, format!("`{field}` is not INDEX:VALUE")));
            };
            let index: usize = index
                .parse()
                .map_err(|_| (line, format!("`{field}`: index `{index}` is not a whole number")))?;
            if index < base || index - base >= spec.width {
                return Err((
                    line,
                    format!(
                        "`{field}`: index {index} is outside {base}..={} (width {}, {}-based)",
                        spec.width - 1 + base,
                        spec.width,
                        base
                    ),
                ));
            }
            let number: f32 = value
                .parse()
                .map_err(|_| (line, format!("`{field}`: value `{value}` is not a number")))?;
            if !number.is_finite() {
                return Err((line, format!("`{field}`: value `{value}` is not finite")));
            }
            let column = index - base;
            if row.last().is_some_and(|&(last, _)| last >= column) {
                return Err((line, format!("`{field}`: indices must increase along a line")));
            }
            row.push((column, number));
        }
        rows.push(row);
        classes.push(class as i64);
    }
    Ok(Sparse {
        width: spec.width,
        rows,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(zero_based: bool) -> SvmlightSpec {
        SvmlightSpec {
            width: 4,
            zero_based,
            labels: vec![-1.0, 1.0],
        }
    }

    #[test]
    fn rows_fill_their_columns_and_labels_map_to_classes_in_declared_order() {
        let text = "# a header comment\n+1 0:2 3:0.5 # trailing\n\n-1\n1 1:-3e-1\n";
        let s = parse(text, &spec(true)).unwrap();
        assert_eq!(s.classes, [1, 0, 1]);
        assert_eq!(s.dense(), [2.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, -0.3, 0.0, 0.0]);
        let one_based = parse("1 1:2 4:5\n", &spec(false)).unwrap();
        assert_eq!(one_based.rows, [vec![(0, 2.0), (3, 5.0)]]);
    }

    #[test]
    fn each_kind_of_bad_line_is_refused_naming_its_line() {
        for (text, zero_based, says) in [
            ("1 0:1\nx 1:1\n", true, "line 2: label `x` is not a number"),
            (
                "0 1:1\n",
                true,
                "line 1: label `0` is not one of the declared labels [-1.0, 1.0]",
            ),
            ("1 1-2\n", true, "line 1: `1-2` is not INDEX:VALUE"),
            ("1 a:2\n", true, "line 1: `a:2`: index `a` is not a whole number"),
            (
                "1 4:2\n",
                true,
                "line 1: `4:2`: index 4 is outside 0..=3 (width 4, 0-based)",
            ),
            (
                "1 0:2\n",
                false,
                "line 1: `0:2`: index 0 is outside 1..=4 (width 4, 1-based)",
            ),
            ("1 1:two\n", true, "line 1: `1:two`: value `two` is not a number"),
            ("\n1 1:nan\n", true, "line 2: `1:nan`: value `nan` is not finite"),
            ("1 1:inf\n", true, "line 1: `1:inf`: value `inf` is not finite"),
            ("1 2:1 1:1\n", true, "line 1: `1:1`: indices must increase along a line"),
            ("1 1:1 1:2\n", true, "line 1: `1:2`: indices must increase along a line"),
        ] {
            let (line, msg) = parse(text, &spec(zero_based)).unwrap_err();
            assert_eq!(format!("line {line}: {msg}"), says, "{text:?}");
        }
    }

    #[test]
    fn a_file_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.svmlight");
        std::fs::write(&path, "1 0:1\n1 9:1\n").unwrap();
        let e = read(&path, &spec(true)).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: line 2: `9:1`: index 9 is outside 0..=3 (width 4, 0-based)",
                path.display()
            )
        );
        let e = read(&dir.path().join("missing.svmlight"), &spec(true))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.svmlight"), "{e}");
    }
}
