//! IEEE 754 half precision (binary16) as a storage format: rounding an f32 to the nearest
//! float16 and back, for the book's `half_float_network.py` question — how much accuracy does a
//! trained network lose when its weights are kept in 16 bits? The arithmetic stays f32; only
//! what is stored is rounded.
//!
//! binary16 has 1 sign bit, 5 exponent bits and 10 fraction bits: 11 significant bits (about
//! 3.3 decimal digits), normal numbers from 2⁻¹⁴ ≈ 6.1e-5 to 65504, and subnormals down to
//! 2⁻²⁴ ≈ 6.0e-8. Every such value is exactly an f32, so rounding to it is a matter of
//! choosing a multiple of the right power of two.

/// The largest finite float16.
pub const MAX: f32 = 65504.0;

/// The smallest normal float16, 2⁻¹⁴.
pub const MIN_NORMAL: f32 = 6.103_515_6e-5;

/// `x` rounded to the nearest float16 (ties to even), as an f32: ±∞ beyond the float16 range
/// (from 65520 on, the halfway point to the next power of two), ±0 below half the smallest
/// subnormal, NaN and ±∞ unchanged.
pub fn round_to_half(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let a = x.abs();
    if a >= 65520.0 {
        return f32::INFINITY.copysign(x);
    }
    // The float16 spacing at a: 2⁻²⁴ below 2⁻¹⁴ (subnormals), else 2^(e − 10) for
    // a in [2^e, 2^(e+1)). a is a normal f32 there, so its exponent field gives e.
    let spacing = if a < MIN_NORMAL {
        f32::from_bits(103 << 23)
    } else {
        let e = ((a.to_bits() >> 23) & 0xff) as i32 - 127;
        f32::from_bits(((e - 10 + 127) as u32) << 23)
    };
    // Dividing and multiplying by a power of two is exact, and so is rounding to an integer.
    ((a / spacing).round_ties_even() * spacing).copysign(x)
}

/// What [`round_slice`] did to a set of values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rounding {
    /// Values looked at.
    pub values: usize,
    /// Values that are not float16 already.
    pub changed: usize,
    /// Non-zero values that became ±0 (below float16's smallest subnormal).
    pub flushed: usize,
    /// Finite values that became ±∞ (beyond 65504).
    pub overflowed: usize,
    /// Non-zero results below 2⁻¹⁴ ≈ 6.1e-5, float16's subnormals, which keep fewer
    /// significant bits the smaller they are.
    pub subnormal: usize,
    /// The largest |rounded − x| / |x| over the values that stayed finite and non-zero: at
    /// most 2⁻¹¹ ≈ 4.9e-4 unless some are subnormal.
    pub max_relative: f64,
}

impl Rounding {
    /// Both tallies together.
    pub fn merge(self, other: Rounding) -> Rounding {
        Rounding {
            values: self.values + other.values,
            changed: self.changed + other.changed,
            flushed: self.flushed + other.flushed,
            overflowed: self.overflowed + other.overflowed,
            subnormal: self.subnormal + other.subnormal,
            max_relative: self.max_relative.max(other.max_relative),
        }
    }
}

/// Rounds every value of `values` to float16 in place ([`round_to_half`]) and tallies it.
pub fn round_slice(values: &mut [f32]) -> Rounding {
    let mut r = Rounding {
        values: values.len(),
        ..Rounding::default()
    };
    for v in values {
        let h = round_to_half(*v);
        if h.to_bits() != v.to_bits() {
            r.changed += 1;
            if h == 0.0 && *v != 0.0 {
                r.flushed += 1;
            } else if h.is_infinite() && v.is_finite() {
                r.overflowed += 1;
            } else {
                r.max_relative = r.max_relative.max(f64::from((h - *v).abs() / v.abs()));
            }
        }
        if h != 0.0 && h.abs() < MIN_NORMAL {
            r.subnormal += 1;
        }
        *v = h;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The f32 value of the float16 with bits `h`, decoded field by field (independent of the
    /// rounding above).
    fn decode(h: u16) -> f32 {
        let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let exp = ((h >> 10) & 0x1f) as i32;
        let frac = (h & 0x3ff) as f32;
        sign * match exp {
            0 => frac * 2f32.powi(-24),
            31 if frac == 0.0 => f32::INFINITY,
            31 => f32::NAN,
            e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
        }
    }

    #[test]
    fn every_float16_is_its_own_rounding() {
        for h in 0..=u16::MAX {
            let v = decode(h);
            let r = round_to_half(v);
            if v.is_nan() {
                assert!(r.is_nan());
            } else {
                assert_eq!(r.to_bits(), v.to_bits(), "{h:#06x}: {v}");
            }
        }
    }

    #[test]
    fn rounds_to_the_nearest_with_ties_to_even() {
        let cases = [
            (1.0, 1.0),
            (0.1, 0.099_975_586),
            (-0.1, -0.099_975_586),
            (MAX, MAX),
            (65519.0, MAX),
            (65520.0, f32::INFINITY),
            (-1e6, f32::NEG_INFINITY),
            (2f32.powi(-24), 2f32.powi(-24)),
            // Half the smallest subnormal is a tie: to the even neighbour, 0.
            (2f32.powi(-25), 0.0),
            (3.0 * 2f32.powi(-25), 2f32.powi(-23)),
            (1e-9, 0.0),
            // 1 + half a spacing (2⁻¹¹) ties to 1; 1 + 1.5 spacings ties up to 1 + 2⁻⁹.
            (1.0 + 2f32.powi(-11), 1.0),
            (1.0 + 3.0 * 2f32.powi(-11), 1.0 + 2f32.powi(-9)),
            (2049.0, 2048.0),
            (2051.0, 2052.0),
        ];
        for (x, want) in cases {
            assert_eq!(round_to_half(x), want, "{x}");
        }
        assert!(round_to_half(f32::NAN).is_nan());
        assert_eq!(round_to_half(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn slices_are_rounded_and_tallied() {
        let mut v = [1.0, 0.1, 1e-9, 1e6, -2.5, 0.0];
        let r = round_slice(&mut v);
        assert_eq!(v, [1.0, 0.099_975_586, 0.0, f32::INFINITY, -2.5, 0.0]);
        assert_eq!((r.values, r.changed, r.flushed, r.overflowed), (6, 3, 1, 1));
        // 0.1's relative error, and float16's bound of 2⁻¹¹ for normal values.
        assert!(
            (r.max_relative - 2.44e-4).abs() < 1e-6,
            "{}",
            r.max_relative
        );
        assert!(r.max_relative <= 2f64.powi(-11));
        assert_eq!(r.subnormal, 0);
        // A subnormal keeps fewer bits: 1e-6 is 16.78 units of 2⁻²⁴, rounded to 17.
        let mut tiny = [1e-6_f32];
        let t = round_slice(&mut tiny);
        assert_eq!((t.subnormal, tiny[0]), (1, 17.0 * 2f32.powi(-24)));
        assert!(t.max_relative > 0.01, "{}", t.max_relative);
        assert_eq!(MIN_NORMAL, 2f32.powi(-14));
        let both = r.merge(Rounding {
            values: 4,
            changed: 1,
            flushed: 0,
            overflowed: 0,
            subnormal: 2,
            max_relative: 4e-4,
        });
        assert_eq!(both.subnormal, 2);
        assert_eq!(
            (both.values, both.changed, both.max_relative),
            (10, 4, 4e-4)
        );
    }

    #[test]
    fn no_float16_lies_nearer_than_the_rounding() {
        // All float16 values in order, then for many f32s: the result is a float16 and no
        // other float16 is strictly nearer.
        let mut halves: Vec<f32> = (0..0x7c00u16).map(decode).collect();
        halves.sort_by(f32::total_cmp);
        let mut x = 1.234_567e-8_f32;
        while x < 65000.0 {
            let r = round_to_half(x);
            let i = halves.partition_point(|&h| h < x);
            let below = halves[i.saturating_sub(1)];
            let above = halves[i.min(halves.len() - 1)];
            let best = (x - below).abs().min((above - x).abs());
            assert!(
                halves.binary_search_by(|h| h.total_cmp(&r)).is_ok(),
                "{x} → {r}"
            );
            assert!(
                (r - x).abs() <= best,
                "{x} → {r}, nearer: {below} or {above}"
            );
            x *= 1.000_37;
        }
    }
}
