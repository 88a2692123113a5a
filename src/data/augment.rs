//! Data augmentation: every training image, each time it is drawn into a batch, moved a little
//! — shifted, rotated, rescaled, mirrored — so the network sees a new variant of it every
//! epoch (the book's §8.1.2, "data augmentation"). A digit two pixels to the left is still the
//! same digit; a network that has only ever seen MNIST's centred digits does not know that.
//!
//! **Which transforms.** `shift:PX` moves the image by a whole number of pixels on each axis,
//! drawn uniformly from −PX…PX, so a shift copies values and never blurs them; `rotate:DEG`
//! turns it about its centre by an angle drawn from ±DEG; `scale:F` zooms it by a factor drawn
//! from 1 ± F; `flip` mirrors it left–right half the time (for CIFAR-10's objects and
//! Fashion-MNIST's garments; a mirrored 2 is not a 2). Rotation and scaling move pixels by
//! fractions, so they resample with bilinear interpolation.
//!
//! **How.** Each output pixel is read from where the inverse transform puts it in the source:
//! `p_in = c + R(−θ)·(p_out − c − t) / s` about the centre `c`, then mirrored if flipped.
//! Outside the frame the nearest edge pixel is repeated: MNIST's border is background, so this
//! is the background, and a CIFAR-10 photo's edge is a better guess at what lies beyond it than
//! black is.
//!
//! **Same bits, any thread count, resumable.** The draws for batch number `step` come from a
//! generator seeded by (run seed, step) alone, so a resumed run augments its batches as the
//! uninterrupted run did, and a split first layer's partner thread ([`crate::nn::split`]),
//! augmenting its own copy of the batch, gets the caller's bits. The per-epoch accuracies are
//! measured on the images as they are.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};
use crate::matrix::{Float, Matrix};

/// What to vary in each training image, drawn afresh for every sample of every batch. The
/// default varies nothing. Serialised in a checkpoint's run record, since it changes the run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "train", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "train", serde(deny_unknown_fields))]
pub struct Augment {
    /// The largest shift in whole pixels, on each axis.
    pub shift: usize,
    /// The largest rotation, in degrees either way.
    pub rotate: f64,
    /// The largest relative change of size: the factor is drawn from [1 − scale, 1 + scale].
    pub scale: f64,
    /// Mirror left–right with probability ½.
    pub flip: bool,
}

impl std::str::FromStr for Augment {
    type Err = Error;

    /// Parses `shift:2,rotate:10,scale:0.1,flip` (any subset, any order) or `none`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |what: String| {
            Error::Config(format!(
                "--augment '{s}': {what}; write e.g. shift:2,rotate:10,scale:0.1,flip or none"
            ))
        };
        let mut a = Augment::default();
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(a);
        }
        let mut seen = Vec::new();
        for item in s.split(',').map(str::trim) {
            let (key, value) = match item.split_once(':') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            if seen.contains(&key) {
                return Err(bad(format!("{key} is given twice")));
            }
            seen.push(key);
            let number = |range: &str, ok: fn(f64) -> bool| {
                let v = value.ok_or_else(|| bad(format!("{key} needs a value, {key}:N")))?;
                v.parse::<f64>()
                    .ok()
                    .filter(|x| ok(*x))
                    .ok_or_else(|| bad(format!("{key}:{v} is not a number in {range}")))
            };
            match key {
                "shift" => {
                    let v = value.ok_or_else(|| bad("shift needs a value, shift:PIXELS".into()))?;
                    a.shift = v
                        .parse()
                        .map_err(|_| bad(format!("shift:{v} is not a whole number of pixels")))?;
                }
                "rotate" => a.rotate = number("0..=180 degrees", |x| (0.0..=180.0).contains(&x))?,
                "scale" => a.scale = number("0..1", |x| (0.0..1.0).contains(&x))?,
                "flip" if value.is_none() => a.flip = true,
                "flip" => return Err(bad("flip takes no value".into())),
                "" => return Err(bad("an item is empty".into())),
                other => {
                    return Err(bad(format!(
                        "unknown transform '{other}' (shift, rotate, scale, flip)"
                    )));
                }
            }
        }
        Ok(a)
    }
}

impl std::fmt::Display for Augment {
    /// The form [`Augment::from_str`](std::str::FromStr) reads: the transforms in use, or `none`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.shift > 0 {
            parts.push(format!("shift:{}", self.shift));
        }
        if self.rotate > 0.0 {
            parts.push(format!("rotate:{}", self.rotate));
        }
        if self.scale > 0.0 {
            parts.push(format!("scale:{}", self.scale));
        }
        if self.flip {
            parts.push("flip".into());
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// One sample's draw: where each output pixel is read from.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Draw {
    /// The shift, in pixels (x to the right, y down).
    tx: i64,
    ty: i64,
    /// cos θ / s and sin θ / s: the inverse rotation and scaling in one.
    cos: f64,
    sin: f64,
    flip: bool,
}

impl Augment {
    /// Whether it changes anything at all.
    pub fn is_none(&self) -> bool {
        *self == Augment::default()
    }

    /// Whether it only moves whole pixels (shift, flip): then every value is copied, never
    /// interpolated.
    fn copies_only(&self) -> bool {
        self.rotate == 0.0 && self.scale == 0.0
    }

    /// Checks it against the images it will transform (channels, height, width).
    pub fn validate(&self, (_, h, w): (usize, usize, usize)) -> Result<()> {
        if self.shift >= h.min(w) {
            return Err(Error::Config(format!(
                "--augment shift:{} would move a {h}×{w} image out of its frame; use at most {}",
                self.shift,
                h.min(w).saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// The generator of batch `step`'s draws: (seed, step) in, the same sequence out, whoever
    /// asks and whenever.
    fn generator(seed: u64, step: usize) -> StdRng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(step as u64).to_le_bytes());
        // Keeps these draws apart from every other stream a run derives from its seed.
        key[16..].copy_from_slice(b"augment batches!");
        StdRng::from_seed(key)
    }

    fn draw(&self, rng: &mut StdRng) -> Draw {
        let s = self.shift as i64;
        let mut shift = || if s > 0 { rng.random_range(-s..=s) } else { 0 };
        let (tx, ty) = (shift(), shift());
        let angle = if self.rotate > 0.0 {
            rng.random_range(-self.rotate..=self.rotate).to_radians()
        } else {
            0.0
        };
        let zoom = if self.scale > 0.0 {
            rng.random_range(1.0 - self.scale..=1.0 + self.scale)
        } else {
            1.0
        };
        Draw {
            tx,
            ty,
            cos: angle.cos() / zoom,
            sin: angle.sin() / zoom,
            flip: self.flip && rng.random_bool(0.5),
        }
    }

    /// Transforms every row of `x` (one image of `shape` = (channels, height, width), channel
    /// planes one after another) in place, with batch number `step`'s draws from `seed`.
    /// Row i gets the i-th draw, so the result depends on (seed, step, the rows) only.
    pub fn apply<T: Float>(
        &self,
        x: &mut Matrix<T>,
        shape: (usize, usize, usize),
        seed: u64,
        step: usize,
    ) {
        let (c, h, w) = shape;
        assert_eq!(x.cols(), c * h * w, "augmenting rows of another shape");
        if self.is_none() {
            return;
        }
        let mut rng = Self::generator(seed, step);
        // A copy of the row being moved, and the resampling's taps: kept for the whole batch.
        let (mut source, mut taps) = (vec![T::ZERO; x.cols()], Vec::new());
        for i in 0..x.rows() {
            let draw = self.draw(&mut rng);
            source.copy_from_slice(x.row(i));
            let out = x.row_mut(i);
            if self.copies_only() {
                copy_shifted(&source, out, (c, h, w), &draw);
            } else {
                resample(&source, out, (c, h, w), &draw, &mut taps);
            }
        }
    }
}

/// Clamps a pixel coordinate into 0..len: beyond the frame, the nearest edge pixel.
#[inline]
fn clamp(p: i64, len: usize) -> usize {
    p.clamp(0, len as i64 - 1) as usize
}

/// ⌊v⌋ for the coordinates here (well inside i64), without `f64::floor`, which is a libm
/// call on baseline x86-64.
#[inline]
fn floor(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v { t - 1 } else { t }
}

/// A whole-pixel shift (and mirror): each output pixel is a copy of one source pixel, so
/// each row is two fills and one slice copy.
fn copy_shifted<T: Float>(src: &[T], out: &mut [T], (c, h, w): (usize, usize, usize), d: &Draw) {
    for ch in 0..c {
        let plane = &src[ch * h * w..(ch + 1) * h * w];
        let out_plane = &mut out[ch * h * w..(ch + 1) * h * w];
        for (y, out_row) in out_plane.chunks_exact_mut(w).enumerate() {
            let row = &plane[clamp(y as i64 - d.ty, h) * w..][..w];
            if d.flip {
                // row[w − 1 − clamp(x − tx)] = row[clamp(w − 1 − x + tx)]: the row shifted
                // the other way, read backwards.
                shift_row(row, out_row, -d.tx);
                out_row.reverse();
            } else {
                shift_row(row, out_row, d.tx);
            }
        }
    }
}

/// `out[x] = row[clamp(x − t)]`: the row moved t pixels right, its edge pixel repeated.
fn shift_row<T: Float>(row: &[T], out: &mut [T], t: i64) {
    let w = row.len();
    let t = t.clamp(1 - w as i64, w as i64 - 1);
    let k = t.unsigned_abs() as usize;
    if t >= 0 {
        out[..k].fill(row[0]);
        out[k..].copy_from_slice(&row[..w - k]);
    } else {
        out[..w - k].copy_from_slice(&row[k..]);
        out[w - k..].fill(row[w - 1]);
    }
}

/// Where one output pixel reads: its four source pixels (top left, top right, bottom left,
/// bottom right) and the weights across and down.
type Tap<T> = ([usize; 4], (T, T));

/// The general transform: each output pixel is interpolated bilinearly between the four
/// source pixels around the point the inverse transform maps it to.
///
/// A row at a time, in two passes: first where each pixel reads (its four taps and two
/// weights), then the blend, once per channel. The source points are tracked in 16.16 fixed
/// point, 1/65536 of a pixel: floor and fraction are then a shift and a mask instead of
/// float–integer conversions, which had made a pixel cost twice as much. A whole-pixel point
/// stays exact, so a pure shift resamples to the copy bit for bit. `taps` is the first pass's
/// buffer, any length: the caller keeps it from one image to the next.
fn resample<T: Float>(
    src: &[T],
    out: &mut [T],
    (c, h, w): (usize, usize, usize),
    d: &Draw,
    taps: &mut Vec<Tap<T>>,
) {
    const BITS: u32 = 16;
    const ONE: f64 = (1u64 << BITS) as f64;
    let fixed = |v: f64| floor(v * ONE + 0.5);
    let fraction = |v: i64| T::from_f64((v & ((1 << BITS) - 1)) as f64 / ONE);
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let plane = h * w;
    // Along a row the source point moves by a fixed step: (cos, −sin) per pixel, mirrored
    // to (−cos, −sin) when flipped, since then sx becomes w − 1 − sx.
    let mirror = if d.flip { -1.0 } else { 1.0 };
    let (step_x, step_y) = (fixed(mirror * d.cos), fixed(-d.sin));
    let dx0 = -cx - d.tx as f64;
    taps.resize(w, ([0; 4], (T::ZERO, T::ZERO)));
    for y in 0..h {
        let dy = y as f64 - cy - d.ty as f64;
        let sx0 = fixed(cx + mirror * (d.cos * dx0 + d.sin * dy));
        let sy0 = fixed(cy - d.sin * dx0 + d.cos * dy);
        for (x, (tap, weight)) in taps.iter_mut().enumerate() {
            let (sx, sy) = (sx0 + step_x * x as i64, sy0 + step_y * x as i64);
            let (x0, y0) = (sx >> BITS, sy >> BITS);
            *weight = (fraction(sx), fraction(sy));
            let (xa, xb) = (clamp(x0, w), clamp(x0 + 1, w));
            let (ya, yb) = (clamp(y0, h) * w, clamp(y0 + 1, h) * w);
            *tap = [ya + xa, ya + xb, yb + xa, yb + xb];
        }
        for ch in 0..c {
            let p = &src[ch * plane..(ch + 1) * plane];
            let out_row = &mut out[ch * plane + y * w..][..w];
            for (o, &(t, (fx, fy))) in out_row.iter_mut().zip(taps.iter()) {
                let top = p[t[0]] + fx * (p[t[1]] - p[t[0]]);
                let bottom = p[t[2]] + fx * (p[t[3]] - p[t[2]]);
                *o = top + fy * (bottom - top);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-channel h×w image whose pixel (y, x) is y·w + x + 1: every value different.
    fn ramp(h: usize, w: usize) -> Vec<f64> {
        (0..h * w).map(|i| i as f64 + 1.0).collect()
    }

    fn draw(tx: i64, ty: i64, degrees: f64, zoom: f64, flip: bool) -> Draw {
        let a = f64::to_radians(degrees);
        Draw {
            tx,
            ty,
            cos: a.cos() / zoom,
            sin: a.sin() / zoom,
            flip,
        }
    }

    #[test]
    fn specs_parse_print_and_refuse_what_they_should() {
        let a: Augment = "shift:2, rotate:10,scale:0.1,flip".parse().unwrap();
        assert_eq!(
            a,
            Augment {
                shift: 2,
                rotate: 10.0,
                scale: 0.1,
                flip: true
            }
        );
        assert_eq!(a.to_string(), "shift:2,rotate:10,scale:0.1,flip");
        assert_eq!(a.to_string().parse::<Augment>().unwrap(), a);
        assert!("none".parse::<Augment>().unwrap().is_none());
        assert_eq!(Augment::default().to_string(), "none");
        for bad in [
            "shift",
            "shift:-1",
            "shift:1.5",
            "rotate:200",
            "rotate:x",
            "scale:1",
            "scale:-0.1",
            "flip:1",
            "shear:3",
            "shift:1,shift:2",
            "shift:1,,flip",
        ] {
            let err = bad.parse::<Augment>().unwrap_err().to_string();
            assert!(err.starts_with("--augment"), "{bad}: {err}");
            assert!(!err.contains('\n'), "{bad}: {err}");
        }
        let shape = (1, 28, 28);
        assert!(
            "shift:27"
                .parse::<Augment>()
                .unwrap()
                .validate(shape)
                .is_ok()
        );
        assert!(
            "shift:28"
                .parse::<Augment>()
                .unwrap()
                .validate(shape)
                .is_err()
        );
    }

    #[test]
    fn a_shift_moves_pixels_and_repeats_the_edge() {
        let (h, w) = (3, 4);
        let src = ramp(h, w);
        let mut out = vec![0.0; h * w];
        // Right by 1, up by 1: out(y, x) = src(y + 1, x − 1), clamped into the frame.
        copy_shifted(&src, &mut out, (1, h, w), &draw(1, -1, 0.0, 1.0, false));
        #[rustfmt::skip]
        let want = [
            5.0, 5.0, 6.0, 7.0,
            9.0, 9.0, 10.0, 11.0,
            9.0, 9.0, 10.0, 11.0,
        ];
        assert_eq!(out, want);
        copy_shifted(&src, &mut out, (1, h, w), &draw(0, 0, 0.0, 1.0, true));
        #[rustfmt::skip]
        let mirrored = [
            4.0, 3.0, 2.0, 1.0,
            8.0, 7.0, 6.0, 5.0,
            12.0, 11.0, 10.0, 9.0,
        ];
        assert_eq!(out, mirrored);
    }

    #[test]
    fn resampling_a_whole_pixel_move_is_the_copy_bit_for_bit() {
        // The general path must agree with the copying one exactly where no fraction arises,
        // on every channel, so shift-only runs may take the fast path without changing a bit.
        let (c, h, w) = (3, 5, 7);
        let src: Vec<f32> = (0..c * h * w).map(|i| (i as f32 * 0.37).sin()).collect();
        for (tx, ty, flip) in [(0, 0, false), (2, -1, false), (-3, 4, true), (6, 0, true)] {
            let d = draw(tx, ty, 0.0, 1.0, flip);
            let (mut a, mut b) = (vec![0.0; src.len()], vec![0.0; src.len()]);
            copy_shifted(&src, &mut a, (c, h, w), &d);
            resample(&src, &mut b, (c, h, w), &d, &mut Vec::new());
            assert_eq!(a, b, "shift ({tx}, {ty}), flip {flip}");
        }
    }

    #[test]
    fn a_quarter_turn_and_a_zoom_land_where_geometry_says() {
        // An odd square turns about its centre pixel onto itself: after a quarter turn the
        // pixel (y, x) holds the source's (n − 1 − x, y), up to the 1/65536 px to which
        // source points are kept (the ramp rises by n per pixel).
        let n = 5;
        let src = ramp(n, n);
        let mut out = vec![0.0; n * n];
        let taps = &mut Vec::new();
        resample(
            &src,
            &mut out,
            (1, n, n),
            &draw(0, 0, 90.0, 1.0, false),
            taps,
        );
        for y in 0..n {
            for x in 0..n {
                let want = src[(n - 1 - x) * n + y];
                assert!((out[y * n + x] - want).abs() < 1e-3, "({y}, {x})");
            }
        }
        // Zoomed in 2×, the pixel one step right of centre reads half a step right of it:
        // halfway between two source values.
        resample(
            &src,
            &mut out,
            (1, n, n),
            &draw(0, 0, 0.0, 2.0, false),
            taps,
        );
        assert!((out[2 * n + 3] - (src[2 * n + 2] + src[2 * n + 3]) / 2.0).abs() < 1e-12);
        assert_eq!(out[2 * n + 2], src[2 * n + 2]);
    }

    #[test]
    fn the_draws_depend_on_seed_and_step_only() {
        let a: Augment = "shift:3,rotate:15,scale:0.2,flip".parse().unwrap();
        let shape = (1, 6, 6);
        let x = Matrix::from_fn(4, 36, |i, j| ((i * 36 + j) as f64 * 0.1).cos());
        let run = |seed, step| {
            let mut y = x.clone();
            a.apply(&mut y, shape, seed, step);
            y
        };
        assert_eq!(run(7, 3), run(7, 3));
        assert_ne!(run(7, 3), run(7, 4));
        assert_ne!(run(7, 3), run(8, 3));
        // Each row gets its own draw: identical rows come out different.
        let mut same = Matrix::from_fn(2, 36, |_, j| j as f64);
        a.apply(&mut same, shape, 1, 0);
        assert_ne!(same.row(0), same.row(1));
        // Augmenting nothing leaves the batch as it was.
        let mut y = x.clone();
        Augment::default().apply(&mut y, shape, 7, 3);
        assert_eq!(y, x);
    }

    #[test]
    fn draws_stay_within_their_bounds_and_use_them() {
        let a: Augment = "shift:2,rotate:10,scale:0.25,flip".parse().unwrap();
        let mut rng = Augment::generator(1, 2);
        let (mut shifts, mut flips) = (std::collections::BTreeSet::new(), 0);
        let (mut min_zoom, mut max_zoom) = (f64::MAX, 0.0f64);
        for _ in 0..2000 {
            let d = a.draw(&mut rng);
            shifts.insert(d.tx);
            shifts.insert(d.ty);
            flips += usize::from(d.flip);
            let zoom = 1.0 / d.cos.hypot(d.sin);
            let angle = d.sin.atan2(d.cos).to_degrees();
            assert!(angle.abs() <= 10.0 + 1e-9, "{angle}");
            min_zoom = min_zoom.min(zoom);
            max_zoom = max_zoom.max(zoom);
        }
        assert_eq!(shifts.into_iter().collect::<Vec<_>>(), [-2, -1, 0, 1, 2]);
        assert!((900..1100).contains(&flips), "{flips}");
        assert!((0.75 - 1e-9..0.8).contains(&min_zoom), "{min_zoom}");
        assert!(max_zoom > 1.2 && max_zoom <= 1.25 + 1e-9, "{max_zoom}");
    }
}
