//! The IDX format of MNIST (LeCun et al.): big-endian magic `0 0 type ndim`, dims, then the data; raw or gzip.

use crate::error::DataError;
use std::io::Read;
use std::path::Path;

/// An unsigned-byte IDX array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes (`.gz` decompressed on the fly), checking magic, dims and length.
pub fn read(path: &Path) -> Result<IdxArray, DataError> {
    let file = std::fs::File::open(path).map_err(DataError::io(path))?;
    let mut bytes = Vec::new();
    let gz = path.extension().is_some_and(|e| e == "gz");
    let result = if gz {
        flate2::read::GzDecoder::new(std::io::BufReader::new(file)).read_to_end(&mut bytes)
    } else {
        std::io::BufReader::new(file).read_to_end(&mut bytes)
    };
    result.map_err(|e| DataError::format(path, format!("cannot read{}: {e}", if gz { " gzip" } else { "" })))?;
    parse(&bytes, path)
}

pub fn parse(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::format(path, "bad IDX magic (expected 00 00 <type> <ndim>)"));
    }
    if bytes[2] != 0x08 {
        return Err(DataError::format(
            path,
            format!("IDX type 0x{:02x} is not unsigned byte (0x08)", bytes[2]),
        ));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 || bytes.len() < 4 + 4 * ndim {
        return Err(DataError::format(
            path,
            format!("IDX header with {ndim} dims is truncated"),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    let expected = dims.iter().product::<usize>();
    let data = &bytes[4 + 4 * ndim..];
    if data.len() != expected {
        return Err(DataError::format(
            path,
            format!(
                "IDX dims {dims:?} need {expected} bytes of data, file has {}",
                data.len()
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}
