//! HMAC-SHA256 with the key's pads compressed once.
//!
//! In: the council's key (once), then short messages given as parts. Out:
//! the HMAC-SHA256 of the parts' concatenation, bit for bit what the `hmac`
//! crate computes (a unit test holds it to that), so stored tokens stay
//! readable.
//!
//! Why: ingest takes a dozen or more HMACs per row of messages under 56
//! bytes. Generic HMAC clones two hasher states and buffers every update;
//! here the inner and outer states after the key's pads are kept, a short
//! message is written straight into one padded block, and each HMAC costs
//! exactly two compressions of the SHA-256 block function.
//!
//! Promises: the kept states (as secret as the key) are wiped on drop; the
//! message bytes are written only to a stack block that is wiped before
//! return.

use sha2::block_api::compress256;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

const BLOCK: usize = 64;
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// A key ready for HMAC-SHA256: the states after `key ^ ipad` and
/// `key ^ opad`.
#[derive(Clone)]
pub struct PreKeyed {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Drop for PreKeyed {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl PreKeyed {
    pub fn new(key: &[u8]) -> PreKeyed {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut pad = [[0u8; BLOCK]];
        let mut state = |x: u8| {
            for (p, b) in pad[0].iter_mut().zip(&k) {
                *p = b ^ x;
            }
            let mut s = IV;
            compress256(&mut s, &pad);
            s
        };
        let (inner, outer) = (state(0x36), state(0x5c));
        k.zeroize();
        pad.zeroize();
        PreKeyed { inner, outer }
    }

    /// The HMAC of `parts` joined end to end, as SHA-256 state words
    /// (big-endian words of the 32-byte tag).
    pub fn mac_words(&self, parts: &[&[u8]]) -> [u32; 8] {
        let mut s = self.inner;
        let mut block = [[0u8; BLOCK]];
        let mut at = 0usize;
        let mut total = BLOCK as u64; // the ipad block already taken
        for p in parts {
            let mut p: &[u8] = p;
            while !p.is_empty() {
                let n = p.len().min(BLOCK - at);
                block[0][at..at + n].copy_from_slice(&p[..n]);
                at += n;
                p = &p[n..];
                if at == BLOCK {
                    compress256(&mut s, &block);
                    total += BLOCK as u64;
                    at = 0;
                }
            }
        }
        total += at as u64;
        finish(&mut s, &mut block, at, total);
        // Outer: one block holds the 32-byte inner hash and its padding.
        for (i, w) in s.iter().enumerate() {
            block[0][i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
        }
        let mut o = self.outer;
        finish(&mut o, &mut block, 32, (BLOCK + 32) as u64);
        block.zeroize();
        s.zeroize();
        o
    }
}

/// Pads the `at` bytes in `block` (message length `total` bytes in all) and
/// compresses what remains.
fn finish(s: &mut [u32; 8], block: &mut [[u8; BLOCK]; 1], at: usize, total: u64) {
    block[0][at] = 0x80;
    block[0][at + 1..].fill(0);
    if at + 1 > BLOCK - 8 {
        compress256(s, block);
        block[0].fill(0);
    }
    block[0][BLOCK - 8..].copy_from_slice(&(total * 8).to_be_bytes());
    compress256(s, block);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};

    fn reference(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    fn words_to_bytes(w: [u32; 8]) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, w) in w.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
        }
        b
    }

    #[test]
    fn equals_the_hmac_crate_for_every_length_and_split() {
        // Lengths across the one/two/three block edges (55, 56, 64, 119...),
        // keys short, block-sized and longer than a block (hashed first).
        let data: Vec<u8> = (0..300u32).map(|i| (i * 37 + 11) as u8).collect();
        for key_len in [0usize, 1, 32, 63, 64, 65, 100] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let p = PreKeyed::new(&key);
            for len in 0..200 {
                let msg = &data[..len];
                let want = reference(&key, &[msg]);
                assert_eq!(words_to_bytes(p.mac_words(&[msg])), want, "{key_len} {len}");
                let cut = len / 3;
                let split = [&msg[..cut], &[][..], &msg[cut..]];
                assert_eq!(words_to_bytes(p.mac_words(&split)), want);
            }
        }
    }

    #[test]
    fn keys_give_different_tags() {
        let (a, b) = (PreKeyed::new(&[1; 32]), PreKeyed::new(&[2; 32]));
        assert_ne!(a.mac_words(&[b"jane"]), b.mac_words(&[b"jane"]));
        assert_ne!(a.mac_words(&[b"jane"]), a.mac_words(&[b"jand"]));
    }
}
