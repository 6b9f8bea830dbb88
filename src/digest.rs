//! Digests as rune writes them everywhere (plans, catalog files, programs, RCS
//! checksums, bundles): sha256, in lower-case hex.

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

/// The sha256 of `bytes`, in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    HEXLOWER.encode(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_of_nothing_is_the_known_one() {
        assert_eq!(
            super::sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
