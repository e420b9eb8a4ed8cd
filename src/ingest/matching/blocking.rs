//! Blocking: which people a row is compared with.
//!
//! In: a row's [`Variant`] and strong ids. Out: blocking keys, each a
//! 64-bit mix of keyed field tokens, and the people indexed under them.
//!
//! Promises: every key is built from keyed tokens only, so it is itself
//! keyed; keys tolerate errors by leaving fields out (no key needs both dob
//! and postcode, several need neither surname nor forename exactly); a key
//! shared by more than [`MAX_BUCKET`] people is too common to be useful and
//! stops growing, so one row is never compared with thousands.

use std::collections::HashMap;

use super::compare::Variant;

/// People per key beyond which the key stops taking more.
pub const MAX_BUCKET: usize = 48;

/// Keys a row can have: one per strong id, one per combination in [`keys`]
/// and the ordered ones of [`legacy_keys`].
pub const MAX_KEYS: usize = 3 + 10 + 3;

/// Each kind of blocking key: the fields it joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlockKind {
    Id = 1,
    Fsd = 2,
    Fd = 3,
    Sd = 4,
    Fsy = 5,
    Fsp = 6,
    Fsa = 7,
    Fp = 8,
    Sp = 9,
    Dp = 10,
    Phon = 13,
}

impl BlockKind {
    pub const ALL: [BlockKind; 11] = [
        BlockKind::Id,
        BlockKind::Fsd,
        BlockKind::Fd,
        BlockKind::Sd,
        BlockKind::Fsy,
        BlockKind::Fsp,
        BlockKind::Fsa,
        BlockKind::Fp,
        BlockKind::Sp,
        BlockKind::Dp,
        BlockKind::Phon,
    ];

    /// The name the export's `rule` column uses: the fields the key joins
    /// (f forename, s surname, d dob, y birth year, p postcode, a address;
    /// phon: the phonetic codes of both names with the birth year).
    /// (fsy, fsp and fsa take the two names in either order.)
    pub fn name(self) -> &'static str {
        match self {
            BlockKind::Id => "id",
            BlockKind::Fsd => "fsd",
            BlockKind::Fd => "fd",
            BlockKind::Sd => "sd",
            BlockKind::Fsy => "fsy",
            BlockKind::Fsp => "fsp",
            BlockKind::Fsa => "fsa",
            BlockKind::Fp => "fp",
            BlockKind::Sp => "sp",
            BlockKind::Dp => "dp",
            BlockKind::Phon => "phon",
        }
    }

    pub fn from_u8(v: u8) -> Option<BlockKind> {
        BlockKind::ALL.iter().copied().find(|k| *k as u8 == v)
    }
}

fn mix(kind: BlockKind, parts: &[u32]) -> u64 {
    // splitmix64 over already-keyed tokens: collisions only add candidates,
    // which scoring then rejects.
    let mut h = (kind as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &p in parts {
        h ^= u64::from(p);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// The blocking key of strong id `id` of type `slot` (its index in a
/// person's ids).
pub fn id_key(slot: usize, id: u64) -> u64 {
    mix(BlockKind::Id, &[slot as u32, id as u32, (id >> 32) as u32])
}

/// The blocking keys of a variant and a person's strong ids.
pub fn keys(v: &Variant, ids: &[u64; 3], out: &mut Vec<(BlockKind, u64)>) {
    out.clear();
    for (i, &id) in ids.iter().enumerate() {
        if id != 0 {
            out.push((BlockKind::Id, id_key(i, id)));
        }
    }
    use BlockKind as K;
    // Both names in either order with the birth year, postcode or address,
    // so a row whose forename and surname were swapped finds its person,
    // with or without a dob. A spelling stored before the cross-field
    // tokens keeps the ordered keys (see `legacy_keys`).
    let [a, b] = names_pair(v);
    let combos: [(K, [u32; 3]); 10] = [
        (K::Fsd, [v.f, v.s, v.d]),
        (K::Fd, [v.f, v.d, 1]),
        (K::Sd, [v.s, v.d, 1]),
        (K::Fsy, [a, b, v.y]),
        (K::Fsp, [a, b, v.pc]),
        (K::Fsa, [a, b, v.addr]),
        (K::Fp, [v.f, v.pc, 1]),
        (K::Sp, [v.s, v.pc, 1]),
        (K::Dp, [v.d, v.pc, 1]),
        (K::Phon, [v.f_phon, v.s_phon, v.y]),
    ];
    for (k, parts) in combos {
        if parts.iter().all(|&p| p != 0) {
            out.push((k, mix(k, &parts)));
        }
    }
}

/// The two names for the keys that take them in either order: their
/// cross-field tokens, smaller first; the ordered field tokens for a
/// spelling stored before those existed.
fn names_pair(v: &Variant) -> [u32; 2] {
    if v.f_x != 0 && v.s_x != 0 {
        [v.f_x.min(v.s_x), v.f_x.max(v.s_x)]
    } else {
        [v.f, v.s]
    }
}

/// The ordered two-name keys (fsy, fsp, fsa) that spellings stored before
/// the cross-field tokens are indexed under, for a row to look up as well
/// while the register holds any.
pub fn legacy_keys(v: &Variant, out: &mut Vec<(BlockKind, u64)>) {
    use BlockKind as K;
    for (k, third) in [(K::Fsy, v.y), (K::Fsp, v.pc), (K::Fsa, v.addr)] {
        let parts = [v.f, v.s, third];
        if parts.iter().all(|&p| p != 0) {
            out.push((k, mix(k, &parts)));
        }
    }
}

/// Hashes keys that are already uniformly distributed (keyed tokens, or
/// mixes of them) with one multiplication: SipHash would cost more than the
/// lookup, and nobody without the key can choose colliding keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct Premixed(u64);

impl std::hash::Hasher for Premixed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        // Fibonacci hashing spreads low-entropy high bits for hashbrown.
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A `HashMap` for keyed keys.
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Premixed>>;

/// A 64-bit key kept as two 32-bit halves: with its 32-bit person an entry
/// packs in 12 bytes instead of 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed([u32; 2]);

impl Packed {
    fn new(key: u64) -> Packed {
        Packed([key as u32, (key >> 32) as u32])
    }
}

impl std::hash::Hash for Packed {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(u64::from(self.0[0]) | u64::from(self.0[1]) << 32);
    }
}

/// Shards of the key -> person map, by the key's top bits. A million people
/// carry some fifteen million keys: one table that doubles would briefly
/// hold both its old and new arrays (hundreds of MB) and spend half its
/// life half empty; a shard grows alone, so the peak and the slack stay a
/// fraction of that.
const SHARD_BITS: u32 = 6;

/// Key -> people. Most keys name one person, so that case takes no
/// allocation.
#[derive(Debug, Clone)]
pub struct Index {
    one: Vec<FastMap<Packed, u32>>,
    many: FastMap<u64, Vec<u32>>,
    len: usize,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            one: (0..1 << SHARD_BITS).map(|_| FastMap::default()).collect(),
            many: FastMap::default(),
            len: 0,
        }
    }
}

const MANY: u32 = u32::MAX;

impl Index {
    fn shard(key: u64) -> usize {
        (key >> (64 - SHARD_BITS)) as usize
    }

    pub fn insert(&mut self, key: u64, person: u32) {
        let one = &mut self.one[Self::shard(key)];
        match one.get(&Packed::new(key)).copied() {
            None => {
                one.insert(Packed::new(key), person);
                self.len += 1;
            }
            Some(p) if p == person => {}
            Some(MANY) => {
                let v = self.many.entry(key).or_default();
                if v.len() < MAX_BUCKET && !v.contains(&person) {
                    v.push(person);
                }
            }
            Some(p) => {
                one.insert(Packed::new(key), MANY);
                self.many.insert(key, vec![p, person]);
            }
        }
    }

    pub fn get(&self, key: u64) -> &[u32] {
        match self.one[Self::shard(key)].get(&Packed::new(key)) {
            None => &[],
            Some(&MANY) => self.many.get(&key).map_or(&[], Vec::as_slice),
            Some(p) => std::slice::from_ref(p),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_holds_one_or_many_and_caps_buckets() {
        let mut ix = Index::default();
        ix.insert(1, 7);
        ix.insert(1, 7);
        assert_eq!(ix.get(1), &[7]);
        ix.insert(1, 8);
        assert_eq!(ix.get(1), &[7, 8]);
        for p in 0..100 {
            ix.insert(2, p);
        }
        assert_eq!(ix.get(2).len(), MAX_BUCKET);
        assert!(ix.get(3).is_empty());
        // keys that differ only in their high or low half stay apart
        ix.insert(u64::MAX, 1);
        ix.insert(u64::MAX >> 1, 2);
        ix.insert(5 << 32, 3);
        assert_eq!(ix.get(u64::MAX), &[1]);
        assert_eq!(ix.get(u64::MAX >> 1), &[2]);
        assert_eq!((ix.get(5 << 32), ix.get(5)), (&[3][..], &[][..]));
        assert_eq!(ix.len(), 5);
    }

    #[test]
    fn a_row_with_every_field_has_max_keys_keys() {
        let v = Variant {
            f: 1,
            s: 2,
            d: 3,
            y: 4,
            pc: 5,
            addr: 6,
            f_phon: 7,
            s_phon: 8,
            f_x: 9,
            s_x: 10,
            ..Default::default()
        };
        let mut out = Vec::new();
        keys(&v, &[11, 12, 13], &mut out);
        legacy_keys(&v, &mut out);
        assert_eq!(out.len(), MAX_KEYS);
    }

    #[test]
    fn keys_need_every_part_and_differ_by_kind() {
        let v = Variant {
            f: 5,
            s: 6,
            d: 7,
            ..Default::default()
        };
        let mut out = Vec::new();
        keys(&v, &[0, 0, 0], &mut out);
        let kinds: Vec<_> = out.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [BlockKind::Fsd, BlockKind::Fd, BlockKind::Sd]);
        let mut vals: Vec<_> = out.iter().map(|(_, h)| *h).collect();
        vals.dedup();
        assert_eq!(vals.len(), 3);
    }
}
