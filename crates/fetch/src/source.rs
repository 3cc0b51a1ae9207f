//! Where bytes come from: a local mirror folder, an HTTP(S) mirror, or a canonical URL. HTTP transfers go to
//! a `.part` file that survives a broken connection and is resumed with a `Range` request next time (or
//! restarted cleanly when the server ignores the range).

use crate::error::FetchError;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A mirror with the same relative paths as `../shared/datasets` (see its README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    Dir(PathBuf),
    Url(String),
}

impl Mirror {
    /// `http://…`, `https://…` (or `file://…`) URL, or a local folder, which must exist.
    pub fn parse(spec: &str) -> Result<Self, FetchError> {
        if spec.starts_with("http://") || spec.starts_with("https://") {
            return Ok(Self::Url(spec.trim_end_matches('/').to_string()));
        }
        let path = PathBuf::from(spec.strip_prefix("file://").unwrap_or(spec));
        if !path.is_dir() {
            return Err(FetchError::Check {
                path,
                msg: "mirror folder does not exist".into(),
            });
        }
        Ok(Self::Dir(path))
    }

    /// Where `rel` lives in this mirror.
    pub fn locate(&self, rel: &str) -> Location {
        match self {
            Self::Dir(d) => Location::File(d.join(rel)),
            Self::Url(u) => Location::Url(format!("{u}/{rel}")),
        }
    }
}

/// One place to get one file from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Url(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Url(u) => write!(f, "{u}"),
        }
    }
}

impl Location {
    pub fn from_url(url: &str) -> Self {
        match url.strip_prefix("file://") {
            Some(p) => Self::File(PathBuf::from(p)),
            None => Self::Url(url.to_string()),
        }
    }
}

/// Copies or downloads `from` into `part`, resuming an HTTP transfer from what `part` already holds.
/// On success `part` holds the whole file; on failure it keeps what arrived (for a later resume).
pub fn fetch(from: &Location, part: &Path, progress: bool) -> Result<u64, FetchError> {
    match from {
        Location::File(src) => {
            let mut input = File::open(src).map_err(FetchError::io(src))?;
            let total = input.metadata().map(|m| m.len()).ok();
            let mut out = File::create(part).map_err(FetchError::io(part))?;
            copy_with_progress(&mut input, &mut out, 0, total, progress, &src.display().to_string()).map_err(|e| {
                FetchError::Io {
                    path: src.clone(),
                    source: e,
                }
            })
        }
        Location::Url(url) => http_fetch(url, part, progress),
    }
}

fn http_fetch(url: &str, part: &Path, progress: bool) -> Result<u64, FetchError> {
    let transfer = |msg: String| FetchError::Transfer {
        url: url.to_string(),
        msg,
    };
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .build();
    let mut request = agent.get(url);
    if have > 0 {
        request = request.set("Range", &format!("bytes={have}-"));
    }
    let response = match request.call() {
        Ok(r) => r,
        // The .part already holds everything (or is longer than the file): start again from zero.
        Err(ureq::Error::Status(416, _)) if have > 0 => {
            std::fs::remove_file(part).map_err(FetchError::io(part))?;
            return http_fetch(url, part, progress);
        }
        Err(ureq::Error::Status(code, r)) => return Err(transfer(format!("HTTP {code} {}", r.status_text()))),
        Err(e) => return Err(transfer(e.to_string())),
    };
    let resumed = response.status() == 206 && have > 0;
    let length: Option<u64> = response.header("Content-Length").and_then(|v| v.parse().ok());
    let mut out = if resumed {
        OpenOptions::new()
            .append(true)
            .open(part)
            .map_err(FetchError::io(part))?
    } else {
        File::create(part).map_err(FetchError::io(part))?
    };
    let start = if resumed { have } else { 0 };
    let total = length.map(|l| l + start);
    let mut reader = response.into_reader();
    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
    let got = copy_with_progress(&mut reader, &mut out, start, total, progress, url).map_err(|e| {
        transfer(format!(
            "transfer cut off after {}{of} bytes ({e}); run again to resume",
            have_now(part)
        ))
    })?;
    if let Some(total) = total {
        if got != total {
            return Err(transfer(format!(
                "transfer cut off after {got} of {total} bytes; run again to resume"
            )));
        }
    }
    Ok(got)
}

fn have_now(part: &Path) -> u64 {
    std::fs::metadata(part).map(|m| m.len()).unwrap_or(0)
}

fn copy_with_progress(
    input: &mut dyn Read,
    out: &mut File,
    start: u64,
    total: Option<u64>,
    progress: bool,
    label: &str,
) -> std::io::Result<u64> {
    let bar = if progress {
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:40!} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}")
                .expect("valid template"),
        );
        bar.set_message(label.rsplit('/').next().unwrap_or(label).to_string());
        bar.set_position(start);
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut done = start;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        done += n as u64;
        bar.set_position(done);
    }
    out.flush()?;
    out.sync_all()?;
    bar.finish_and_clear();
    Ok(done)
}
