//! Output formats: aligned text tables, Markdown, CSV and SVG charts, plus the GEMM report that
//! turns measured points into them. Formatting only: nothing here measures or computes.

pub mod confusion;
pub mod csv;
pub mod gemm;
pub mod histograms;
pub mod markdown;
pub mod plane;
pub mod playground;
pub mod roofline;
pub mod search;
pub mod svg;
pub mod table;
pub mod tiles;
pub mod training;

pub use table::{Align, Table};
