//! A picture of the user's own — a phone's JPEG of a digit written on paper, a PNG drawn in a
//! paint program, a photo of a shoe — made to look like a sample of the dataset a model was
//! trained on.
//!
//! A model only knows its training distribution. An MNIST network has never seen dark ink on
//! white paper, a digit touching the border or one drawn 300 pixels tall: fed such a picture
//! as it is, it answers nonsense. So a picture is prepared the way the dataset's makers
//! prepared theirs:
//!
//! - **MNIST** (LeCun et al.): the digit's bounding box scaled, aspect kept, to fit 20×20
//!   (anti-aliased: here by averaging over each output pixel's area), then placed in 28×28 so
//!   that its centre of mass falls on the centre. MNIST's own test digits have their centre of
//!   mass at (14.0, 14.0) in pixel indices, spread 0.29: whole-pixel shifts, as here.
//! - **Fashion-MNIST** (Xiao et al.): the article's bounding box scaled so its longer side is 28,
//!   centred on the canvas.
//! - **CIFAR-10**: a whole photo, the largest centred square scaled to 32×32.
//!
//! A digit written with a thin pen has its strokes thickened to MNIST's width first (see
//! `thickened`).
//!
//! Both grey datasets have a black background and bright ink. A picture whose border is mostly
//! light (paper) is inverted first; its background level — a plane, for a sheet lit from one
//! side (`Background`) — is then taken off and the brightest ink made 1, so a grey photo of
//! paper looks like MNIST's clean black.

use std::path::Path;

use crate::error::{Error, Result};

/// A decoded picture: `channels` planes (1 grey or 3 red, green, blue) of `height`×`width`
/// values in [0, 1], plane after plane.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// 1 (grey) or 3 (red, green, blue).
    pub channels: usize,
    /// Rows of pixels.
    pub height: usize,
    /// Pixels per row.
    pub width: usize,
    /// The planes one after another, each row by row, values in [0, 1].
    pub planes: Vec<f32>,
}

/// The most decoded bytes a picture may take (the `png` crate's own default): 16 megapixels
/// of RGBA. Larger pictures are refused with a one-line error before any allocation.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// The largest side a JPEG may have (the decoder's own default, 16,384 pixels).
const MAX_JPEG_SIDE: usize = 1 << 14;

impl Picture {
    /// Reads a PNG or a JPEG, told apart by their first bytes, not by the file's name.
    pub fn read(path: &Path) -> Result<Picture> {
        Self::decode(&crate::input::read(path)?, path)
    }

    /// Decodes a PNG or a JPEG held in memory (an upload); `path` names it in messages.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Picture> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Self::from_png(bytes, path)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Self::from_jpeg(bytes, path)
        } else {
            Err(Error::format(
                path,
                "neither a PNG nor a JPEG (by its first bytes); convert the picture to one of them",
            ))
        }
    }

    /// Decodes a JPEG (baseline or progressive, grey or colour) and turns it upright as its
    /// EXIF orientation says: a phone stores a portrait photo sideways and says so there, and a
    /// digit on its side is another digit or none.
    fn from_jpeg(bytes: &[u8], path: &Path) -> Result<Picture> {
        use zune_jpeg::errors::DecodeErrors;
        use zune_jpeg::zune_core::bytestream::ZCursor;
        use zune_jpeg::zune_core::colorspace::ColorSpace;
        use zune_jpeg::zune_core::options::DecoderOptions;
        let options = DecoderOptions::default()
            .set_strict_mode(true)
            .set_max_width(MAX_JPEG_SIDE)
            .set_max_height(MAX_JPEG_SIDE)
            .jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
        let bad = |e: zune_jpeg::errors::DecodeErrors| match e {
            DecodeErrors::ExhaustedData | DecodeErrors::IoErrors(_) => {
                Error::format(path, "the JPEG is truncated")
            }
            other => Error::format(path, format!("not a readable JPEG ({})", one_line(other))),
        };
        decoder.decode_headers().map_err(bad)?;
        let info = decoder
            .info()
            .ok_or_else(|| Error::format(path, "no JPEG header"))?;
        if info.components == 1 {
            // A grey JPEG stays one plane.
            decoder.set_options(options.jpeg_set_out_colorspace(ColorSpace::Luma));
        }
        let (width, height) = (usize::from(info.width), usize::from(info.height));
        let size = decoder
            .output_buffer_size()
            .filter(|&s| s <= MAX_DECODED_BYTES)
            .ok_or_else(|| Error::format(path, too_large()))?;
        let mut pixels = vec![0u8; size];
        decoder.decode_into(&mut pixels).map_err(bad)?;
        let samples = decoder
            .output_colorspace()
            .map_or(3, |c| c.num_components());
        if samples == 0 || pixels.len() != width * height * samples {
            return Err(Error::format(
                path,
                "a JPEG whose pixels do not fill its size",
            ));
        }
        let picture =
            Self::from_samples(pixels.chunks_exact(width * samples), width, height, samples);
        let orientation = decoder
            .exif()
            .and_then(|e| exif_orientation(e))
            .unwrap_or(1);
        Ok(picture.upright(orientation))
    }

    /// The picture as it is meant to be seen, given an EXIF orientation (1–8; 1 is as stored).
    fn upright(self, orientation: u16) -> Picture {
        let (h, w) = (self.height, self.width);
        if !(2..=8).contains(&orientation) {
            return self;
        }
        // 5 to 8 turn the picture a quarter round: its sides swap.
        let (out_h, out_w) = if orientation >= 5 { (w, h) } else { (h, w) };
        // Where display pixel (y, x) comes from in the stored picture.
        let from = |y: usize, x: usize| match orientation {
            2 => (y, w - 1 - x),
            3 => (h - 1 - y, w - 1 - x),
            4 => (h - 1 - y, x),
            5 => (x, y),
            6 => (h - 1 - x, y),
            7 => (h - 1 - x, w - 1 - y),
            _ => (x, w - 1 - y),
        };
        let plane = h * w;
        let mut planes = Vec::with_capacity(self.planes.len());
        for c in 0..self.channels {
            for y in 0..out_h {
                for x in 0..out_w {
                    let (sy, sx) = from(y, x);
                    planes.push(self.planes[c * plane + sy * w + sx]);
                }
            }
        }
        Picture {
            channels: self.channels,
            height: out_h,
            width: out_w,
            planes,
        }
    }

    /// Decodes a PNG of any colour type and bit depth. Transparent pixels are laid over white,
    /// as a drawing on paper; 16-bit samples keep their top 8 bits.
    fn from_png(bytes: &[u8], path: &Path) -> Result<Picture> {
        let bad = |e: png::DecodingError| match e {
            png::DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Error::format(path, "the PNG is truncated")
            }
            png::DecodingError::IoError(e) => Error::io(path, e),
            png::DecodingError::LimitsExceeded => Error::format(path, too_large()),
            other => Error::format(path, format!("not a readable PNG ({})", one_line(other))),
        };
        let mut decoder = png::Decoder::new_with_limits(
            std::io::Cursor::new(bytes),
            png::Limits {
                bytes: MAX_DECODED_BYTES,
            },
        );
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(bad)?;
        let size = reader
            .output_buffer_size()
            .filter(|&s| s <= MAX_DECODED_BYTES)
            .ok_or_else(|| bad(png::DecodingError::LimitsExceeded))?;
        let mut buf = vec![0u8; size];
        let frame = reader.next_frame(&mut buf).map_err(bad)?;
        let (width, height) = (frame.width as usize, frame.height as usize);
        let samples = match frame.color_type {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Indexed => {
                return Err(Error::format(
                    path,
                    "an indexed PNG the decoder did not expand",
                ));
            }
        };
        let rows = (0..height).map(|y| &buf[y * frame.line_size..][..width * samples]);
        Ok(Self::from_samples(rows, width, height, samples))
    }

    /// A picture from rows of interleaved 8-bit samples, `samples` per pixel: grey, grey and
    /// alpha, RGB or RGBA. Transparent pixels are laid over white, as a drawing on paper.
    fn from_samples<'a>(
        rows: impl Iterator<Item = &'a [u8]>,
        width: usize,
        height: usize,
        samples: usize,
    ) -> Picture {
        let channels = if samples >= 3 { 3 } else { 1 };
        let plane = width * height;
        let mut planes = vec![0.0_f32; channels * plane];
        for (y, line) in rows.enumerate() {
            for (x, px) in line.chunks_exact(samples).enumerate() {
                let value = |i: usize| f32::from(px[i]) / 255.0;
                // Laid over white: alpha · colour + (1 − alpha) · 1.
                let alpha = if samples.is_multiple_of(2) {
                    value(samples - 1)
                } else {
                    1.0
                };
                for c in 0..channels {
                    planes[c * plane + y * width + x] = alpha * value(c) + (1.0 - alpha);
                }
            }
        }
        Picture {
            channels,
            height,
            width,
            planes,
        }
    }

    /// One grey value per pixel: a colour picture by its luminance.
    pub fn grey(&self) -> Vec<f32> {
        luminance(&self.planes, self.channels, self.height * self.width)
    }
}

/// One grey value per pixel of `channels` planes of `plane` values each: three (red, green,
/// blue) by their luminance with ITU-R 601's weights (CIFAR-10's `--grayscale` uses the same),
/// one as it is. `predict` and `eval --misclassified` draw a dataset's colour images this way
/// too, so a picture and a test image look alike.
pub fn luminance(planes: &[f32], channels: usize, plane: usize) -> Vec<f32> {
    if channels == 3 {
        let p = planes;
        (0..plane)
            .map(|i| 0.299 * p[i] + 0.587 * p[plane + i] + 0.114 * p[2 * plane + i])
            .collect()
    } else {
        planes[..plane.min(planes.len())].to_vec()
    }
}

/// A decoder's message on one line (some end theirs with a newline).
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The error for a picture over [`MAX_DECODED_BYTES`].
fn too_large() -> String {
    format!(
        "the picture is too large: over {} MiB decoded; scale it down first",
        MAX_DECODED_BYTES >> 20
    )
}

/// The orientation (1–8) in raw EXIF data (a TIFF header and its first directory), if it says.
fn exif_orientation(exif: &[u8]) -> Option<u16> {
    let little = match exif.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = exif.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = exif.get(at..at + 4)?.try_into().ok()?;
        let v = if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        };
        usize::try_from(v).ok()
    };
    let directory = u32_at(4)?;
    let entries = usize::from(u16_at(directory)?);
    (0..entries)
        .map(|i| directory + 2 + 12 * i)
        // Tag 0x0112 (Orientation), type 3 (SHORT), one value, stored in the entry itself.
        .find(|&entry| u16_at(entry) == Some(0x0112))
        .and_then(|entry| u16_at(entry + 8))
        .filter(|o| (1..=8).contains(o))
}

/// How a picture is made to look like a dataset's samples (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preparation {
    /// MNIST's: the digit fitted into 20×20, centred by mass in 28×28.
    Digit,
    /// Fashion-MNIST's: the article's longer side scaled to the canvas, centred.
    Article,
    /// CIFAR-10's: the centred square of the photo scaled to the canvas.
    Photo,
    /// None: the picture must have the model's size already, and is taken as it is.
    AsIs,
}

impl Preparation {
    /// What the dataset's makers did, or `None` for a set of 2-D points.
    pub fn for_dataset(name: super::DatasetName) -> Option<Preparation> {
        use super::DatasetName as D;
        match name {
            D::Mnist => Some(Preparation::Digit),
            D::FashionMnist => Some(Preparation::Article),
            D::Cifar10 => Some(Preparation::Photo),
            D::Circle | D::Xor | D::Gauss | D::Spiral => None,
        }
    }

    /// A few words for the report: what was done to the picture.
    pub fn describe(self) -> &'static str {
        match self {
            Preparation::Digit => {
                "as MNIST's digits: light on dark, thin strokes thickened, fitted into 20×20, \
                 centred by mass in 28×28"
            }
            Preparation::Article => {
                "as Fashion-MNIST's articles: the longer side scaled to 28, centred, light on dark"
            }
            Preparation::Photo => "as CIFAR-10's photos: the centred square scaled to 32×32",
            Preparation::AsIs => "as it is",
        }
    }
}

/// How a picture is prepared for a model of `dataset` (CIFAR-10 as gray values when
/// `grayscale`) with `inputs` inputs, and the image shape it becomes: the dataset's own
/// preparation, or none when `as_is`. A set of 2-D points, or a model whose input is not the
/// dataset's image, is an error.
pub fn for_model(
    dataset: super::DatasetName,
    grayscale: bool,
    inputs: usize,
    as_is: bool,
) -> Result<(Preparation, (usize, usize, usize))> {
    let (how, shape) = match (
        Preparation::for_dataset(dataset),
        dataset.image_shape(grayscale),
    ) {
        (Some(how), Some(shape)) => (if as_is { Preparation::AsIs } else { how }, shape),
        _ => {
            return Err(Error::Config(format!(
                "--image needs a model of images; {dataset} is a set of 2-D points (see \
                 `scratchnet playground`)"
            )));
        }
    };
    let (c, h, w) = shape;
    if inputs != c * h * w {
        return Err(Error::shape(
            "model vs picture",
            format!("{inputs} inputs, as the model has"),
            format!("{c}×{h}×{w} = {} values, {dataset}'s image size", c * h * w),
        ));
    }
    Ok((how, shape))
}

/// The grey datasets' digits fit this box (MNIST's 20×20).
const DIGIT_BOX: usize = 20;

/// Where MNIST's digits have their centre of mass, in pixel indices of the 28×28 canvas.
const DIGIT_CENTRE: f64 = 14.0;

/// Prepared ink below this share of the brightest is taken as background (paper grain, a JPEG's
/// ringing, a shadow), so it neither widens the bounding box nor shifts the centre.
const INK_FLOOR: f32 = 0.15;

/// The least contrast between ink and background, as a share of the full range, below which
/// a picture is called blank rather than stretched into noise.
const MIN_CONTRAST: f32 = 0.05;

/// `picture` prepared `how` for a model whose input is `shape` = (channels, height, width):
/// one input row, CHW planes in [0, 1].
pub fn prepare(
    picture: &Picture,
    how: Preparation,
    shape: (usize, usize, usize),
) -> Result<Vec<f32>> {
    let (channels, height, width) = shape;
    let describe = |p: &Picture| format!("{}×{}", p.width, p.height);
    let (c, h, w) = (picture.channels, picture.height, picture.width);
    if !matches!(c, 1 | 3) || h == 0 || w == 0 || picture.planes.len() != c * h * w {
        return Err(Error::shape(
            "picture",
            "1 or 3 planes of height × width values",
            format!("{} values for {c} planes of {h}×{w}", picture.planes.len()),
        ));
    }
    match how {
        Preparation::AsIs => {
            if (picture.height, picture.width) != (height, width) {
                return Err(Error::shape(
                    "picture as it is",
                    format!("{width}×{height} pixels, the model's input"),
                    format!(
                        "{} pixels (drop --as-is to have it prepared)",
                        describe(picture)
                    ),
                ));
            }
            Ok(match (channels, picture.channels) {
                (1, _) => picture.grey(),
                (3, 3) => picture.planes.clone(),
                _ => picture.grey().repeat(channels),
            })
        }
        Preparation::Photo => {
            let side = picture.height.min(picture.width);
            let (top, left) = ((picture.height - side) / 2, (picture.width - side) / 2);
            let crop = |plane: &[f32]| -> Vec<f32> {
                let square: Vec<f32> = (0..side)
                    .flat_map(|y| {
                        let row = (top + y) * picture.width + left;
                        plane[row..row + side].iter().copied()
                    })
                    .collect();
                resize(&square, side, side, height, width)
            };
            let plane = picture.height * picture.width;
            Ok(if channels == 3 && picture.channels == 3 {
                picture.planes.chunks_exact(plane).flat_map(crop).collect()
            } else {
                crop(&picture.grey()).repeat(channels)
            })
        }
        Preparation::Digit | Preparation::Article => {
            let ink = ink(picture)?;
            // The brightest ink is 1 after `ink`, so there is a box; a picture of NaNs has none.
            let (top, left, h, w) = bounding_box(&ink, picture.height, picture.width)
                .ok_or_else(|| Error::Config("the picture has no ink to prepare".into()))?;
            let cropped: Vec<f32> = (top..top + h)
                .flat_map(|y| ink[y * picture.width + left..][..w].iter().copied())
                .collect();
            let (cropped, h, w) = if how == Preparation::Digit {
                thickened(cropped, h, w)
            } else {
                (cropped, h, w)
            };
            let fit = if how == Preparation::Digit {
                DIGIT_BOX.min(height).min(width)
            } else {
                height.min(width)
            };
            let scale = fit as f64 / h.max(w) as f64;
            let out_h = ((h as f64 * scale).round() as usize).clamp(1, fit);
            let out_w = ((w as f64 * scale).round() as usize).clamp(1, fit);
            let glyph = resize(&cropped, h, w, out_h, out_w);
            let (y0, x0) = if how == Preparation::Digit {
                let (cy, cx) = centre_of_mass(&glyph, out_h, out_w);
                let place = |centre: f64, size: usize, room: usize| {
                    let at = (DIGIT_CENTRE * room as f64 / 28.0 - centre).round();
                    (at.max(0.0) as usize).min(room - size)
                };
                (place(cy, out_h, height), place(cx, out_w, width))
            } else {
                // An odd pixel left over goes before the article, as Fashion-MNIST's makers put
                // it: of its test images with an odd width left, 99.7 % have the extra column
                // on the left (94 % of odd heights the extra row on top), and a network trained
                // on them is that much less sure of one shifted the other way.
                ((height - out_h).div_ceil(2), (width - out_w).div_ceil(2))
            };
            let mut canvas = vec![0.0_f32; height * width];
            for y in 0..out_h {
                canvas[(y0 + y) * width + x0..][..out_w]
                    .copy_from_slice(&glyph[y * out_w..][..out_w]);
            }
            Ok(canvas.repeat(channels))
        }
    }
}

/// The picture as light ink on a black background, the brightest ink 1: inverted if its border
/// is mostly light, its background level taken off ([`Background`]), faint residue below
/// [`INK_FLOOR`] zeroed.
fn ink(picture: &Picture) -> Result<Vec<f32>> {
    let (h, w) = (picture.height, picture.width);
    let mut grey = picture.grey();
    if median(border_positions(h, w).map(|p| grey[p]).collect()) > 0.5 {
        grey.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    let background = Background::of(&grey, h, w);
    let level = |p: usize| background.at(p / w, p % w);
    let contrast = (0..h * w)
        .map(|p| grey[p] - level(p))
        .fold(0.0_f32, f32::max);
    if contrast < MIN_CONTRAST {
        return Err(Error::Config(format!(
            "the picture is blank: nothing in it differs from its background by more than {:.0} % \
             of the full range",
            100.0 * MIN_CONTRAST
        )));
    }
    Ok((0..h * w)
        .map(|p| {
            let v = ((grey[p] - level(p)) / contrast).clamp(0.0, 1.0);
            if v < INK_FLOOR { 0.0 } else { v }
        })
        .collect())
}

/// The positions (y·w + x) on the border of an h×w picture, row by row.
fn border_positions(h: usize, w: usize) -> impl Iterator<Item = usize> {
    (0..h * w).filter(move |p| {
        let (y, x) = (p / w, p % w);
        y == 0 || x == 0 || y + 1 == h || x + 1 == w
    })
}

/// The middle value (the upper of the two middle ones).
fn median(mut values: Vec<f32>) -> f32 {
    values.sort_by(f32::total_cmp);
    values[values.len() / 2]
}

/// The paper's level across an inverted picture (ink bright, paper dark): a plane through the
/// border's median at the centre, tilted by the difference between opposite sides. A sheet lit
/// from one side, by a desk lamp or a window, is brighter at one edge than at the other, and
/// one level for the whole sheet makes its dim side read as ink: with the light falling by 30 %
/// across the sheet, MNIST pictures were 0.26 right against 0.96 under even light
/// (`examples/paper_digits.rs`). The ink is nowhere used to find the level, so a digit that
/// fills the picture, or is written with a thin pen, keeps every stroke — which methods that
/// estimate the paper around each pixel cannot promise.
///
/// Each side's level is its darker quarter (the 25th percentile): ink is bright here, so up to
/// three quarters of a side may be ink — a digit running off the edge — without moving it.
/// Along a side the light changes too, so which quarter that is depends on where the ink
/// sits: the sides are read again with the tilt found so far taken off, until it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Background {
    centre: f32,
    per_x: f32,
    per_y: f32,
    /// The centre's coordinates.
    cy: f32,
    cx: f32,
}

impl Background {
    fn of(grey: &[f32], h: usize, w: usize) -> Self {
        let flat = Background {
            centre: 0.0,
            per_x: 0.0,
            per_y: 0.0,
            cy: (h as f32 - 1.0) / 2.0,
            cx: (w as f32 - 1.0) / 2.0,
        };
        // Each reading levels the sides by the tilt found so far, until the tilt holds (an
        // exact plane: in two readings; a few more allowed for grain and odd ink).
        let mut tilted = flat.refined(grey, h, w);
        for _ in 0..8 {
            let next = tilted.refined(grey, h, w);
            let settled = (next.per_x - tilted.per_x).abs() < 1e-6
                && (next.per_y - tilted.per_y).abs() < 1e-6;
            tilted = next;
            if settled {
                break;
            }
        }
        // The level at the centre: the border's median, the tilt taken off.
        let centre = median(
            border_positions(h, w)
                .map(|p| grey[p] - tilted.at(p / w, p % w))
                .collect(),
        );
        Background { centre, ..tilted }
    }

    /// The tilt read from opposite sides' darker quarters: the x tilt from the left and right
    /// columns, levelled along y by this background's tilt, then the y tilt from the top and
    /// bottom rows, levelled along x by the x tilt just found.
    fn refined(self, grey: &[f32], h: usize, w: usize) -> Self {
        let quarter = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v[v.len() / 4]
        };
        // A side only tells a slope when the picture is wider (taller) than a pixel or two.
        let slope = |a: Vec<f32>, b: Vec<f32>, n: usize| {
            if n >= 3 {
                (quarter(b) - quarter(a)) / (n - 1) as f32
            } else {
                0.0
            }
        };
        let column = |x: usize| {
            (0..h)
                .map(|y| grey[y * w + x] - self.per_y * (y as f32 - self.cy))
                .collect::<Vec<_>>()
        };
        let per_x = slope(column(0), column(w - 1), w);
        let row = |y: usize| {
            (0..w)
                .map(|x| grey[y * w + x] - per_x * (x as f32 - self.cx))
                .collect::<Vec<_>>()
        };
        Background {
            per_x,
            per_y: slope(row(0), row(h - 1), h),
            ..self
        }
    }

    fn at(&self, y: usize, x: usize) -> f32 {
        self.centre + self.per_x * (x as f32 - self.cx) + self.per_y * (y as f32 - self.cy)
    }
}

/// MNIST's strokes are about this wide, as a share of the digit's longer side: the median over
/// its test digits, measured as 2·area / perimeter of the ink above one half.
const DIGIT_STROKE: f64 = 0.095;

/// A tenth of MNIST's test digits have strokes thinner than this (and a tenth wider than
/// 0.133): a digit below it is thickened to [`DIGIT_STROKE`], one above it left as written.
const DIGIT_STROKE_THIN: f64 = 0.070;

/// The width of the strokes of an `h`×`w` ink plane as a share of its longer side: a stroke of
/// width s and length L has area s·L and about 2·L boundary pixels, so 2·area / boundary.
fn stroke_width(ink: &[f32], h: usize, w: usize) -> f64 {
    let on = |y: usize, x: usize| ink[y * w + x] > 0.5;
    let (mut area, mut boundary) = (0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if on(y, x) {
                area += 1;
                let edge = y == 0
                    || x == 0
                    || y + 1 == h
                    || x + 1 == w
                    || !on(y - 1, x)
                    || !on(y + 1, x)
                    || !on(y, x - 1)
                    || !on(y, x + 1);
                boundary += usize::from(edge);
            }
        }
    }
    if boundary == 0 {
        return 0.0;
    }
    2.0 * area as f64 / boundary as f64 / h.max(w) as f64
}

/// A digit written with a thin pen, thickened to MNIST's stroke width: a digit 4 cm tall drawn
/// with a 0.5 mm pen has strokes an eighth as wide as MNIST's, and scaled to 20 pixels they
/// would be faint hairlines the network has never seen (MNIST test digits whose strokes were
/// thinned that way fell from 0.96 to 0.78 correct; see docs/experiments.md, experiment 19).
/// Each pixel takes the brightest ink within r of it (a square), r making up the difference;
/// the plane grows by r on every side. Strokes within MNIST's own range are left as written.
fn thickened(ink: Vec<f32>, h: usize, w: usize) -> (Vec<f32>, usize, usize) {
    let long = h.max(w) as f64;
    let width = stroke_width(&ink, h, w);
    let r = ((DIGIT_STROKE - width) * long / 2.0).round();
    if width >= DIGIT_STROKE_THIN || r < 1.0 {
        return (ink, h, w);
    }
    let r = r as usize;
    let (out_h, out_w) = (h + 2 * r, w + 2 * r);
    let mut across = Vec::with_capacity(h * out_w);
    for row in ink.chunks_exact(w) {
        across.extend(window_max(row, r));
    }
    let mut out = vec![0.0_f32; out_h * out_w];
    let mut column = vec![0.0_f32; h];
    for x in 0..out_w {
        for (y, v) in column.iter_mut().enumerate() {
            *v = across[y * out_w + x];
        }
        for (y, v) in window_max(&column, r).into_iter().enumerate() {
            out[y * out_w + x] = v;
        }
    }
    (out, out_h, out_w)
}

/// A line widened by `r` on each side, each value the maximum of the line within `r` of it
/// (zero beyond its ends): van Herk's running maximum, a few comparisons per value whatever
/// `r` is — a 2,000-pixel photo of a fine-pen digit needs r ≈ 90.
fn window_max(line: &[f32], r: usize) -> Vec<f32> {
    let k = 2 * r + 1;
    let m = line.len() + 4 * r;
    // The line with 2r zeros on both sides; output x is the maximum of padded[x..x + k].
    let padded = |j: usize| {
        j.checked_sub(2 * r)
            .and_then(|i| line.get(i))
            .copied()
            .unwrap_or(0.0)
    };
    // Within blocks of k: the maximum from the block's start, and to its end.
    let mut from_start = vec![0.0_f32; m];
    for j in 0..m {
        from_start[j] = if j % k == 0 {
            padded(j)
        } else {
            from_start[j - 1].max(padded(j))
        };
    }
    let mut to_end = vec![0.0_f32; m];
    for j in (0..m).rev() {
        to_end[j] = if j % k == k - 1 || j + 1 == m {
            padded(j)
        } else {
            to_end[j + 1].max(padded(j))
        };
    }
    // A window of k starting at x spans the end of one block and the start of the next.
    (0..line.len() + 2 * r)
        .map(|x| to_end[x].max(from_start[x + k - 1]))
        .collect()
}

/// (top, left, height, width) of the non-zero values of an `h`×`w` plane, `None` if all are 0.
fn bounding_box(plane: &[f32], h: usize, w: usize) -> Option<(usize, usize, usize, usize)> {
    let lit = |y: usize, x: usize| plane[y * w + x] > 0.0;
    let rows: Vec<usize> = (0..h).filter(|&y| (0..w).any(|x| lit(y, x))).collect();
    let cols: Vec<usize> = (0..w).filter(|&x| (0..h).any(|y| lit(y, x))).collect();
    let (&top, &bottom) = (rows.first()?, rows.last()?);
    let (&left, &right) = (cols.first()?, cols.last()?);
    Some((top, left, bottom - top + 1, right - left + 1))
}

/// The centre of mass (row, column) of an `h`×`w` plane, in pixel indices.
fn centre_of_mass(plane: &[f32], h: usize, w: usize) -> (f64, f64) {
    let (mut mass, mut y_sum, mut x_sum) = (0.0, 0.0, 0.0);
    for y in 0..h {
        for x in 0..w {
            let m = f64::from(plane[y * w + x]);
            mass += m;
            y_sum += m * y as f64;
            x_sum += m * x as f64;
        }
    }
    if mass == 0.0 {
        return ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    }
    (y_sum / mass, x_sum / mass)
}

/// Each output cell of a line of `n_out` over one of `n_in`: the input cells it covers, from
/// the first, with the share of the output cell each covers (the shares sum to 1).
fn area_weights(n_in: usize, n_out: usize) -> Vec<(usize, Vec<f32>)> {
    let step = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|j| {
            let (lo, hi) = (j as f64 * step, (j + 1) as f64 * step);
            let first = lo.floor() as usize;
            let last = (hi.ceil() as usize).min(n_in);
            let weights = (first..last)
                .map(|i| {
                    let overlap = hi.min(i as f64 + 1.0) - lo.max(i as f64);
                    (overlap.max(0.0) / step) as f32
                })
                .collect();
            (first, weights)
        })
        .collect()
}

/// An `h`×`w` plane scaled to `out_h`×`out_w`, each output pixel the average of the input over
/// its area: anti-aliased when shrinking, blocky but exact when growing.
pub fn resize(plane: &[f32], h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<f32> {
    let (across, down) = (area_weights(w, out_w), area_weights(h, out_h));
    let mut rows = vec![0.0_f32; h * out_w];
    for y in 0..h {
        let line = &plane[y * w..][..w];
        for (x, (first, weights)) in across.iter().enumerate() {
            rows[y * out_w + x] = weights
                .iter()
                .zip(&line[*first..])
                .map(|(a, b)| a * b)
                .sum();
        }
    }
    let mut out = vec![0.0_f32; out_h * out_w];
    for (y, (first, weights)) in down.iter().enumerate() {
        for (k, weight) in weights.iter().enumerate() {
            let src = &rows[(first + k) * out_w..][..out_w];
            for (o, s) in out[y * out_w..][..out_w].iter_mut().zip(src) {
                *o += weight * s;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(height: usize, width: usize, f: impl Fn(usize, usize) -> f32) -> Picture {
        let planes = (0..height * width)
            .map(|i| f(i / width, i % width))
            .collect();
        Picture {
            channels: 1,
            height,
            width,
            planes,
        }
    }

    /// A TIFF header and one directory holding `orientation`, in either byte order.
    fn exif(orientation: u16, little: bool) -> Vec<u8> {
        let u16b = |v: u16| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let u32b = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut e = if little {
            b"II".to_vec()
        } else {
            b"MM".to_vec()
        };
        e.extend(u16b(42));
        e.extend(u32b(8));
        e.extend(u16b(2)); // two entries: a resolution unit, then the orientation
        e.extend(u16b(0x0128));
        e.extend(u16b(3));
        e.extend(u32b(1));
        e.extend(u16b(2));
        e.extend([0, 0]);
        e.extend(u16b(0x0112));
        e.extend(u16b(3));
        e.extend(u32b(1));
        e.extend(u16b(orientation));
        e.extend([0, 0]);
        e.extend(u32b(0));
        e
    }

    #[test]
    fn the_exif_orientation_is_read_in_both_byte_orders_and_nonsense_is_none() {
        for o in 1..=8 {
            assert_eq!(exif_orientation(&exif(o, true)), Some(o));
            assert_eq!(exif_orientation(&exif(o, false)), Some(o));
        }
        assert_eq!(exif_orientation(&exif(9, true)), None);
        assert_eq!(exif_orientation(b"II*\0"), None);
        assert_eq!(exif_orientation(b"not exif at all"), None);
        let full = exif(6, false);
        assert_eq!(exif_orientation(&full[..full.len() - 8]), None, "cut short");
    }

    #[test]
    fn each_exif_orientation_turns_the_stored_picture_upright() {
        // Stored as 2 rows of 3: 1 2 3 / 4 5 6.
        let stored = grey(2, 3, |y, x| (3 * y + x + 1) as f32);
        let shown = |o: u16| {
            let p = stored.clone().upright(o);
            (
                p.height,
                p.width,
                p.planes.iter().map(|&v| v as u8).collect::<Vec<_>>(),
            )
        };
        assert_eq!(shown(1), (2, 3, vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(shown(2), (2, 3, vec![3, 2, 1, 6, 5, 4]), "mirrored");
        assert_eq!(
            shown(3),
            (2, 3, vec![6, 5, 4, 3, 2, 1]),
            "turned half round"
        );
        assert_eq!(shown(4), (2, 3, vec![4, 5, 6, 1, 2, 3]), "upside down");
        assert_eq!(shown(5), (3, 2, vec![1, 4, 2, 5, 3, 6]), "transposed");
        assert_eq!(shown(6), (3, 2, vec![4, 1, 5, 2, 6, 3]), "turned clockwise");
        assert_eq!(shown(7), (3, 2, vec![6, 3, 5, 2, 4, 1]), "transversed");
        assert_eq!(
            shown(8),
            (3, 2, vec![3, 6, 2, 5, 1, 4]),
            "turned anticlockwise"
        );
    }

    #[test]
    fn the_running_maximum_is_the_maximum_within_r_of_each_place() {
        let line: Vec<f32> = (0..23).map(|i| ((i * 37) % 17) as f32).collect();
        for n in [1, 2, 5, 23] {
            for r in [1, 2, 3, 7, 30] {
                let got = window_max(&line[..n], r);
                assert_eq!(got.len(), n + 2 * r);
                for (x, &v) in got.iter().enumerate() {
                    // Output x is centred on input x − r.
                    let want = (0..n)
                        .filter(|&i| (i + r).abs_diff(x) <= r)
                        .map(|i| line[i])
                        .fold(0.0, f32::max);
                    assert_eq!(v, want, "n {n} r {r} x {x}");
                }
            }
        }
    }

    #[test]
    fn a_thin_pen_is_thickened_to_mnist_s_stroke_and_a_broad_one_left_alone() {
        // An "L" 200 tall and 120 wide, strokes `s` pixels wide.
        let ell = |s: usize| {
            grey(
                200,
                120,
                |y, x| if x < s || y >= 200 - s { 1.0 } else { 0.0 },
            )
        };
        let width = |p: &Picture| stroke_width(&p.planes, p.height, p.width);
        let thin = ell(4);
        assert!(
            (width(&thin) - 4.0 / 200.0).abs() < 0.002,
            "{}",
            width(&thin)
        );
        let (ink, h, w) = thickened(thin.planes.clone(), 200, 120);
        let r = ((DIGIT_STROKE - width(&thin)) * 200.0 / 2.0).round() as usize;
        assert_eq!((h, w), (200 + 2 * r, 120 + 2 * r));
        let thick = stroke_width(&ink, h, w);
        assert!((thick - DIGIT_STROKE).abs() < 0.01, "{thick}");
        // Strokes within MNIST's range are kept as written.
        let broad = ell(16);
        assert!(width(&broad) > DIGIT_STROKE_THIN);
        assert_eq!(thickened(broad.planes.clone(), 200, 120).0, broad.planes);
    }

    #[test]
    fn area_weights_cover_each_output_cell_once() {
        for (n_in, n_out) in [
            (1, 1),
            (7, 3),
            (3, 7),
            (100, 20),
            (20, 28),
            (28, 28),
            (5, 1),
        ] {
            let cells = area_weights(n_in, n_out);
            assert_eq!(cells.len(), n_out);
            let mut covered = vec![0.0_f64; n_in];
            for (first, weights) in &cells {
                let total: f32 = weights.iter().sum();
                assert!((total - 1.0).abs() < 1e-5, "{n_in}→{n_out}: {weights:?}");
                for (k, &w) in weights.iter().enumerate() {
                    covered[first + k] += f64::from(w) * n_in as f64 / n_out as f64;
                }
            }
            // Every input cell is used in full, once, over all the output cells.
            assert!(
                covered.iter().all(|c| (c - 1.0).abs() < 1e-5),
                "{covered:?}"
            );
        }
    }

    #[test]
    fn resizing_keeps_the_mean_and_halving_averages_pairs() {
        let plane: Vec<f32> = (0..6 * 10).map(|i| ((i * 7) % 11) as f32 / 10.0).collect();
        let mean = |p: &[f32]| p.iter().sum::<f32>() / p.len() as f32;
        for (h, w) in [(3, 5), (2, 4), (7, 13), (12, 20), (1, 1)] {
            let out = resize(&plane, 6, 10, h, w);
            assert_eq!(out.len(), h * w);
            assert!((mean(&out) - mean(&plane)).abs() < 1e-5, "{h}×{w}");
        }
        let halved = resize(&plane, 6, 10, 3, 5);
        let at = |y: usize, x: usize| plane[y * 10 + x];
        let expected = (at(2, 4) + at(2, 5) + at(3, 4) + at(3, 5)) / 4.0;
        assert!((halved[5 + 2] - expected).abs() < 1e-6);
        // Doubling repeats each pixel: exact, no blur.
        let doubled = resize(&plane, 6, 10, 12, 20);
        assert_eq!(doubled[5 * 20 + 9], at(2, 4));
    }

    #[test]
    fn a_digit_is_fitted_into_20_by_20_and_centred_by_mass() {
        // A dark bar on white paper, 60 tall and 12 wide, off to one side of a 100×80 picture.
        let bar = grey(100, 80, |y, x| {
            if (10..70).contains(&y) && (50..62).contains(&x) {
                0.1
            } else {
                0.95
            }
        });
        let out = prepare(&bar, Preparation::Digit, (1, 28, 28)).unwrap();
        let (top, left, h, w) = bounding_box(&out, 28, 28).unwrap();
        assert_eq!((h, w), (20, 4), "aspect kept, the longer side 20");
        let (cy, cx) = centre_of_mass(&out, 28, 28);
        assert!(
            (cy - 14.0).abs() <= 0.5 && (cx - 14.0).abs() <= 0.5,
            "{cy} {cx}"
        );
        // Its centre (9.5, 1.5) must move by 4.5 and 12.5: whole pixels, halves rounded up.
        assert_eq!((top, left), (5, 13));
        // Light on dark, the ink at full brightness, the background black.
        assert_eq!(out.iter().copied().fold(0.0, f32::max), 1.0);
        assert_eq!(out.iter().filter(|&&v| v > 0.0).count(), 20 * 4);
        // The same bar already light on dark gives the same input.
        let dark = grey(100, 80, |y, x| 1.0 - bar.planes[y * 80 + x]);
        assert_eq!(
            prepare(&dark, Preparation::Digit, (1, 28, 28)).unwrap(),
            out
        );
    }

    #[test]
    fn an_article_fills_the_canvas_along_its_longer_side_and_is_centred() {
        let shoe = grey(40, 90, |y, x| {
            if y >= 20 && (10..70).contains(&x) {
                0.0
            } else {
                1.0
            }
        });
        let out = prepare(&shoe, Preparation::Article, (1, 28, 28)).unwrap();
        let (top, left, h, w) = bounding_box(&out, 28, 28).unwrap();
        // 60×20 scaled by 28/60: 28×9 (9.33 rounded), centred, the odd one of the 19 rows
        // left over on top, where Fashion-MNIST has it.
        assert_eq!((h, w), (9, 28));
        assert_eq!((top, left), (10, 0));
    }

    #[test]
    fn a_photo_is_its_centred_square_scaled() {
        // A 4×8 colour picture: red left half, blue right half; the centred square is columns 2..6.
        let (h, w) = (4, 8);
        let mut planes = vec![0.0_f32; 3 * h * w];
        for y in 0..h {
            for x in 0..w {
                let c = if x < 4 { 0 } else { 2 };
                planes[c * h * w + y * w + x] = 1.0;
            }
        }
        let photo = Picture {
            channels: 3,
            height: h,
            width: w,
            planes,
        };
        let out = prepare(&photo, Preparation::Photo, (3, 2, 2)).unwrap();
        assert_eq!(
            out,
            [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        );
        // A grey model sees the luminance.
        let grey_out = prepare(&photo, Preparation::Photo, (1, 2, 2)).unwrap();
        assert_eq!(grey_out, [0.299, 0.114, 0.299, 0.114]);
    }

    #[test]
    fn a_blank_picture_and_a_wrong_size_as_is_are_errors() {
        let paper = grey(30, 30, |y, x| 0.9 + 0.01 * ((x + y) % 3) as f32);
        let e = prepare(&paper, Preparation::Digit, (1, 28, 28)).unwrap_err();
        assert!(e.to_string().contains("blank"), "{e}");
        let e = prepare(&paper, Preparation::AsIs, (1, 28, 28)).unwrap_err();
        assert!(e.to_string().contains("30×30"), "{e}");
        let sample = grey(28, 28, |y, x| (y * 28 + x) as f32 / 784.0);
        assert_eq!(
            prepare(&sample, Preparation::AsIs, (1, 28, 28)).unwrap(),
            sample.planes
        );
    }

    #[test]
    fn a_picture_whose_planes_do_not_fit_its_size_is_an_error() {
        let mut p = grey(4, 4, |_, _| 0.5);
        p.planes.pop();
        let e = prepare(&p, Preparation::Digit, (1, 28, 28)).unwrap_err();
        assert!(
            e.to_string().contains("15 values for 1 planes of 4×4"),
            "{e}"
        );
        p.channels = 2;
        assert!(prepare(&p, Preparation::AsIs, (1, 4, 4)).is_err());
    }

    #[test]
    fn the_paper_level_is_a_plane_tilted_as_the_light_falls_whatever_ink_touches_the_border() {
        // Inverted paper (dark) lit unevenly: 0.1 at the top left corner, rising 0.03 a pixel
        // to the right and 0.02 a pixel down; bright ink over most of the bottom row and part
        // of the left column, and a stroke across the middle.
        let (h, w) = (9, 12);
        let paper = |y: usize, x: usize| 0.1 + 0.03 * x as f32 + 0.02 * y as f32;
        let inked = |y: usize, x: usize| (y == h - 1 && x < 8) || (x == 0 && y > 5) || y == 4;
        let grey: Vec<f32> = (0..h * w)
            .map(|p| {
                let (y, x) = (p / w, p % w);
                if inked(y, x) { 0.95 } else { paper(y, x) }
            })
            .collect();
        let b = Background::of(&grey, h, w);
        for y in 0..h {
            for x in 0..w {
                assert!((b.at(y, x) - paper(y, x)).abs() < 1e-5, "({y}, {x}): {b:?}");
            }
        }
        // Even paper (a grain of two greys) is one level: the border's median, as before the tilt.
        let even: Vec<f32> = (0..h * w)
            .map(|p| [0.2, 0.3][(p / w + p % w) % 2])
            .collect();
        let b = Background::of(&even, h, w);
        assert_eq!((b.per_x, b.per_y), (0.0, 0.0));
        assert_eq!(
            b.centre,
            median(border_positions(h, w).map(|p| even[p]).collect())
        );
        // A picture a pixel or two across has no sides to compare.
        let b = Background::of(&[0.1, 0.9], 1, 2);
        assert_eq!((b.per_x, b.per_y), (0.0, 0.0));
    }

    #[test]
    fn faint_specks_neither_widen_the_box_nor_move_the_centre() {
        let clean = grey(50, 50, |y, x| {
            if (10..40).contains(&y) && (20..30).contains(&x) {
                1.0
            } else {
                0.0
            }
        });
        let specks = grey(50, 50, |y, x| {
            let v = clean.planes[y * 50 + x];
            if v == 0.0 && (y * 7 + x * 3) % 17 == 0 {
                0.1
            } else {
                v
            }
        });
        assert_eq!(
            prepare(&specks, Preparation::Digit, (1, 28, 28)).unwrap(),
            prepare(&clean, Preparation::Digit, (1, 28, 28)).unwrap()
        );
    }
}
