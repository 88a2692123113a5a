//! Cache block sizes for the packed rungs, derived from this CPU's caches at run time.
//!
//! The sizes follow BLIS's reasoning (Low et al., "Analytical modeling is enough for
//! high-performance BLIS", 2016), applied to the cache sizes the OS reports
//! (`/sys/devices/system/cpu/cpu0/cache`), or to `SCRATCHNET_CACHES=L1,L2,L3` (e.g.
//! `32K,512K,8M`), or, where neither is known, to the Zen 3 VM this project started on
//! (L1d 32 KiB, L2 512 KiB, L3 8 MiB):
//!
//! - `kc`: one B micro-panel (kc × nr) must stay in L1 while the microkernel streams A
//!   micro-panels past it, with room for the A micro-panel and C's tile: kc = L1d / 128 bytes
//!   (a multiple of 16, 64…1024). 32 KiB → 256: the f32 6×16 kernel's B panel is 16 KiB, its A
//!   panel 6 KiB; the f64 6×8 kernel's 16 + 12 KiB. kc depends on the L1 only — never on the
//!   kernel or the thread count — because it decides how k is cut, and so the rounding: every
//!   kernel on one machine gives the same bits.
//! - `mc`: the packed A block (mc × kc) is reused by every B micro-panel of the jc block, so it
//!   lives in L2, about 9/32 of it so B panels streaming through do not evict it: 512 KiB, f32
//!   → 144 rows (144 KiB); 1 MiB → 288. Rounded to a multiple of mr.
//! - `nc`: the packed B block (kc × nc) is reused by every A block, so it lives in L3: half of
//!   it, at most 8,192 columns (an 8 MiB f32 buffer). 8 MiB L3 → 4,096 f32 columns.
//!
//! `scratchnet bench gemm` prints the caches and the sizes in use; docs/gemm.md compares the
//! derived sizes with the Zen 3 constants on a machine whose caches differ.

use std::sync::OnceLock;

/// Cache sizes in bytes, per core for L1d and L2; L3 as the OS reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caches {
    /// L1 data cache per core.
    pub l1d: usize,
    /// L2 cache per core.
    pub l2: usize,
    /// L3 cache (shared), as the OS reports it.
    pub l3: usize,
    /// Where the sizes came from: `"sysfs"`, `"SCRATCHNET_CACHES"` or `"default"`.
    pub source: &'static str,
}

impl Caches {
    /// The sizes assumed where none can be read: the Zen 3 VM the constants came from.
    pub const DEFAULT: Caches = Caches {
        l1d: 32 << 10,
        l2: 512 << 10,
        l3: 8 << 20,
        source: "default",
    };

    /// This machine's caches, read once.
    pub fn current() -> Caches {
        static CURRENT: OnceLock<Caches> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            std::env::var("SCRATCHNET_CACHES")
                .ok()
                .and_then(|v| Caches::parse(&v))
                .or_else(Caches::from_sysfs)
                .unwrap_or(Caches::DEFAULT)
        })
    }

    /// `L1,L2,L3` with optional `K`/`M` suffixes, e.g. `32K,512K,8M`.
    pub fn parse(s: &str) -> Option<Caches> {
        let sizes: Vec<usize> = s.split(',').map(parse_size).collect::<Option<_>>()?;
        match sizes[..] {
            [l1d, l2, l3] if l1d > 0 && l2 > 0 && l3 > 0 => Some(Caches {
                l1d,
                l2,
                l3,
                source: "SCRATCHNET_CACHES",
            }),
            _ => None,
        }
    }

    /// Linux's description of cpu0's caches.
    fn from_sysfs() -> Option<Caches> {
        let (mut l1d, mut l2, mut l3) = (None, None, None);
        for entry in std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()? {
            let dir = entry.ok()?.path();
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
            let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
            else {
                continue;
            };
            let size = parse_size(size.trim());
            match (level.trim(), kind.trim()) {
                ("1", "Data") => l1d = size,
                ("2", _) => l2 = size,
                ("3", _) => l3 = size,
                _ => {}
            }
        }
        Some(Caches {
            l1d: l1d?,
            l2: l2?,
            l3: l3.unwrap_or(Caches::DEFAULT.l3),
            source: "sysfs",
        })
    }
}

/// `32K`, `1M`, `524288` → bytes.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mult)
}

/// Block sizes for one microkernel (`mr`×`nr`) and element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockParams {
    /// Rows of the microkernel's register tile.
    pub mr: usize,
    /// Columns of the register tile.
    pub nr: usize,
    /// Rows of A's packed block (sized to stay in L2).
    pub mc: usize,
    /// Depth of a packed block (an mr × kc sliver of A and kc × nr of B stay in L1).
    pub kc: usize,
    /// Columns of B's packed panel (sized to stay in L3).
    pub nc: usize,
}

impl BlockParams {
    /// Rounds `x` down to a multiple of `to` (at least `to`).
    fn round(x: usize, to: usize) -> usize {
        (x / to).max(1) * to
    }

    /// Builds the sizes for an `mr`×`nr` kernel from element budgets, keeping them multiples
    /// of the register tile so only the last block of a dimension can be ragged.
    fn new(mr: usize, nr: usize, mc: usize, kc: usize, nc: usize) -> Self {
        BlockParams {
            mr,
            nr,
            mc: Self::round(mc, mr),
            kc,
            nc: Self::round(nc, nr),
        }
    }

    /// The sizes for an `mr`×`nr` kernel on `elem`-byte values, derived from `caches` as the
    /// module doc explains.
    pub fn derive(mr: usize, nr: usize, elem: usize, caches: &Caches) -> Self {
        let kc = (caches.l1d / 128 / 16 * 16).clamp(64, 1024);
        let mc = (caches.l2 * 9 / 32 / (kc * elem)).max(mr);
        let nc = (caches.l3 / 2 / (kc * elem)).clamp(nr, 8192);
        Self::new(mr, nr, mc, kc, nc)
    }

    /// f32 sizes for this machine's caches.
    pub fn for_f32(mr: usize, nr: usize) -> Self {
        Self::derive(mr, nr, 4, &Caches::current())
    }

    /// f64 sizes for this machine's caches.
    pub fn for_f64(mr: usize, nr: usize) -> Self {
        Self::derive(mr, nr, 8, &Caches::current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zen3_caches_give_the_constants_it_was_tuned_with() {
        let c = Caches::DEFAULT;
        let f32p = BlockParams::derive(6, 16, 4, &c);
        assert_eq!((f32p.mc, f32p.kc, f32p.nc), (144, 256, 4096));
        let f64p = BlockParams::derive(6, 8, 8, &c);
        assert_eq!((f64p.mc, f64p.kc, f64p.nc), (72, 256, 2048));
        // A bigger L2 and L1 (Zen 5: 48 KiB, 1 MiB) grow mc and kc; kc never depends on the
        // kernel, so every kernel cuts k alike.
        let zen5 = Caches::parse("48K,1M,32M").unwrap();
        let a = BlockParams::derive(6, 16, 4, &zen5);
        let b = BlockParams::derive(8, 32, 4, &zen5);
        assert_eq!((a.kc, a.mc, a.nc), (384, 192, 8192));
        assert_eq!(b.kc, a.kc);
        assert_eq!(b.mc % 8, 0);
    }

    #[test]
    fn sizes_parse_with_suffixes_and_bad_ones_are_refused() {
        assert_eq!(parse_size("32K"), Some(32768));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("524288"), Some(524288));
        assert_eq!(parse_size("x"), None);
        assert!(Caches::parse("32K,512K").is_none());
        assert!(Caches::parse("0,512K,8M").is_none());
    }
}
