//! The local backend's errors, in sky's provider taxonomy: a file system failure is
//! `Unexpected`, a request this machine cannot serve is `InvalidRequest` (the broker aborts
//! rather than failing over).

use sky_core::error::{Error, ErrorKind, Placement};

use crate::CLOUD;

pub(crate) fn io_error(what: String, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Unexpected, format!("{what}: {e}"))
        .with_placement(Placement::cloud(CLOUD))
        .with_source(e)
}

pub(crate) fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidRequest, message).with_placement(Placement::cloud(CLOUD))
}
