//! `scratchnet bench gemm`: GFLOP/s of each GEMM rung on this CPU, with % of measured peak.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use crate::bench::environment::{Environment, debug_build_warning};
use crate::bench::gemm::{self, Problem};
use crate::bench::peak::{self, Peak};
use crate::cli::{Precision, progress_bar};
use crate::error::{Error, Result};
use crate::matrix::gemm::dispatch::{self, resolve_threads};
use crate::matrix::gemm::params::{BlockParams, Caches};
use crate::memory;
use crate::output::{self, Named, write_output};
use crate::report::{self, Table, csv, markdown};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// GFLOP/s of each GEMM rung over square sizes and MLP shapes.
    Gemm(GemmArgs),
    /// Each rung and shape against the machine's roofs: memory bandwidth (STREAM triad, 1 and
    /// all threads) and the FMA peaks (AVX2, AVX-512); `--svg` draws the roofline.
    Roofline(GemmArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Markdown,
    Csv,
}

#[derive(Debug, Args)]
pub struct GemmArgs {
    /// Rungs to time, comma-separated: naive, reordered, blocked, packed, simd, avx512,
    /// direct, threaded, auto.
    #[arg(
        long,
        default_value = "naive,reordered,blocked,packed,simd,avx512,direct,threaded,auto"
    )]
    pub kernels: String,
    /// Square sizes n (n×n×n), comma-separated; `none` for no square sizes.
    #[arg(long, default_value = "64,128,256,512,1024,2048")]
    pub sizes: String,
    /// Shapes MxKxN, comma-separated, with `:ta`/`:tb`/`:tab` for transposed operands; `none`
    /// for none. Default: the MLP's forward and backward products at batch 100.
    #[arg(
        long,
        default_value = "100x784x100,100x784x50,100x100x50,100x50x10,784x100x100:ta,100x100x784:tb"
    )]
    pub shapes: String,
    /// Threads for `threaded` and `auto` [default: $SCRATCHNET_THREADS or all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write a chart of GFLOP/s against n (square sizes), one line per rung.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Time budget per point, in milliseconds (after a warm-up run).
    #[arg(long, default_value_t = 300)]
    pub budget_ms: u64,
    /// A rung whose single run would exceed this many milliseconds is timed on a band of rows.
    #[arg(long, default_value_t = 1500)]
    pub max_run_ms: u64,
    /// Seed for the random operands.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Gemm(args) => gemm_report(args),
        BenchCommand::Roofline(args) => roofline_report(args),
    }
}

/// Turns the flags into a measurement plan, rejecting bad values with the flag's name.
pub fn gemm_config(args: &GemmArgs) -> Result<gemm::Config> {
    let kernels = crate::cli::parse_list("--kernels", &args.kernels, |s| s.parse())?;
    let none = |s: &str| s.trim().eq_ignore_ascii_case("none");
    let sizes: Vec<usize> = if none(&args.sizes) {
        Vec::new()
    } else {
        crate::cli::parse_list("--sizes", &args.sizes, |s| {
            s.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::Config(format!("'{s}' is not a positive integer")))
        })?
    };
    let shapes: Vec<Problem> = if none(&args.shapes) {
        Vec::new()
    } else {
        crate::cli::parse_list("--shapes", &args.shapes, |s| s.parse())?
    };
    let threads = resolve_threads(args.threads)?;
    if args.budget_ms == 0 || args.max_run_ms == 0 {
        return Err(Error::Config(
            "--budget-ms and --max-run-ms must be positive".into(),
        ));
    }
    let mut problems: Vec<Problem> = sizes.into_iter().map(Problem::square).collect();
    problems.extend(shapes);
    if kernels.is_empty() || problems.is_empty() {
        return Err(Error::Config(
            "nothing to measure: give at least one kernel and one size or shape".into(),
        ));
    }
    // A, B, C and the reference C of the largest product, with room for packing and the
    // per-thread copies: refused up front rather than aborting on allocation.
    let elem = args.precision.bytes();
    for p in &problems {
        let need = [
            memory::product(&[p.m, p.k, elem]),
            memory::product(&[p.k, p.n, elem]),
            memory::product(&[p.m, p.n, elem, 2]),
        ]
        .into_iter()
        .try_fold(0u64, |acc, b| acc.checked_add(b?))
        .and_then(|b| b.checked_mul(2));
        memory::check(&format!("the {}×{}×{} product", p.m, p.k, p.n), need)?;
    }
    Ok(gemm::Config {
        kernels,
        problems,
        threads,
        budget: Duration::from_millis(args.budget_ms),
        max_run: Duration::from_millis(args.max_run_ms),
        seed: args.seed,
    })
}

/// What both reports start with: the plan, a checked output, the machine and its FMA peak.
struct Prepared {
    config: gemm::Config,
    env: Environment,
    peak: Peak,
}

fn prepare(args: &GemmArgs) -> Result<Prepared> {
    let config = gemm_config(args)?;
    if let Some(path) = &args.svg {
        // Fail before minutes of measuring, not after.
        output::check_outputs(&[Named::new("--svg", path)], &[], &[])?;
    }
    if let Some(w) = debug_build_warning() {
        eprintln!("{w}");
    }
    let env = Environment::detect();
    let peak = measure_peak(config.threads);
    Ok(Prepared { config, env, peak })
}

/// The FMA probe as both reports run it: five rounds of 100 ms.
fn measure_peak(threads: usize) -> Peak {
    peak::measure(threads, Duration::from_millis(100), 5)
}

/// `peak` and a second reading taken now, after the measurements, the best of the two: a
/// probe that fell in a busy moment (something else on a core) would otherwise put rows above
/// 100 % of a peak the machine has.
fn confirm_peak(peak: Peak, threads: usize) -> Peak {
    peak.best(measure_peak(threads))
}

/// Times every rung on every problem, with a progress bar unless `--quiet`.
fn measure(args: &GemmArgs, config: &gemm::Config) -> Result<Vec<gemm::Point>> {
    let bar = progress_bar(
        (config.kernels.len() * config.problems.len()) as u64,
        !args.quiet,
        "{bar:30} {pos}/{len} {msg} [{elapsed}]",
    );
    let progress = |done: usize, _total: usize, label: &str| {
        bar.set_position(done as u64);
        bar.set_message(label.to_string());
    };
    let points = match args.precision {
        Precision::F32 => gemm::run::<f32>(config, progress)?,
        Precision::F64 => gemm::run::<f64>(config, progress)?,
    };
    bar.finish_and_clear();
    Ok(points)
}

/// Prints the experiment header and a table in the chosen format: as `key: value` lines
/// before a text table, as a list before Markdown, on stderr (as `# ` comments) for CSV so
/// stdout stays pure CSV. `csv_table` is the machine-readable variant of `table`.
fn print_report(format: Format, header: &[(String, String)], table: &Table, csv_table: &Table) {
    match format {
        Format::Table => {
            for (k, v) in header {
                crate::outln!("{k:>14}: {v}");
            }
            crate::outln!();
            crate::out!("{}", table.to_text());
        }
        Format::Markdown => {
            for (k, v) in header {
                crate::outln!("- {k}: {v}");
            }
            crate::outln!();
            crate::out!("{}", markdown::render(table));
        }
        Format::Csv => {
            for (k, v) in header {
                eprintln!("# {k}: {v}");
            }
            crate::out!("{}", csv::render(csv_table));
        }
    }
}

fn gemm_report(args: GemmArgs) -> Result<()> {
    let Prepared { config, env, peak } = prepare(&args)?;
    let points = measure(&args, &config)?;
    let peak = confirm_peak(peak, config.threads);
    let precision = args.precision.name();
    let header = header_lines(&env, &peak, precision, config.threads);
    print_report(
        args.format,
        &header,
        &report::gemm::table(&points, &peak),
        &report::gemm::csv_table(&points, &peak),
    );
    let noisy = report::gemm::noisy_points(&points);
    if noisy > 0 {
        eprintln!(
            "warning: {noisy} of {} points had an interquartile range over 15% of their median; \
             the machine may be busy. Rerun on an idle machine or raise --budget-ms.",
            points.len()
        );
    }
    if let Some(path) = &args.svg {
        let subtitle = format!(
            "{} · {} · peak {:.1} GFLOP/s/core f32 · {} · {}",
            env.cpu, env.simd, peak.f32_per_core, env.rustc, env.date
        );
        let svg = report::gemm::chart(&points, config.threads, subtitle).render()?;
        write_output(path, svg.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn header_lines(
    env: &Environment,
    peak: &Peak,
    precision: &str,
    threads: usize,
) -> Vec<(String, String)> {
    let mut lines = env.lines();
    let caches = Caches::current();
    lines.push((
        "caches".into(),
        format!(
            "L1d {}, L2 {}, L3 {} ({})",
            crate::memory::human(caches.l1d as u64),
            crate::memory::human(caches.l2 as u64),
            crate::memory::human(caches.l3 as u64),
            caches.source
        ),
    ));
    let p = if precision == "f64" {
        let uk = dispatch::fastest_kernel::<f64>();
        BlockParams::for_f64(uk.mr(), uk.nr())
    } else {
        let uk = dispatch::fastest_kernel::<f32>();
        BlockParams::for_f32(uk.mr(), uk.nr())
    };
    lines.push((
        "blocks".into(),
        format!(
            "{precision}: mc {} kc {} nc {} (mr×nr {}×{})",
            p.mc, p.kc, p.nc, p.mr, p.nr
        ),
    ));
    if let Some(gain) = dispatch::avx512_gain() {
        let used = if dispatch::picks_by_shape() {
            "kernel whose tiles cover each product with less waste (avx512f or avx2+fma)".into()
        } else {
            format!("{} kernel", dispatch::fastest_kernel::<f32>().name())
        };
        lines.push((
            "avx512 gain".into(),
            format!("{gain:.2}× the AVX2 FMA rate; threaded and auto run the {used}"),
        ));
    }
    if threads > 1 {
        use crate::matrix::gemm::threaded;
        // The latest reading: the rows above ran on the verdicts of their time, and say how
        // many threads they had. No reading yet (nothing measured could use the pool): take one.
        let (readings, latest) = threaded::pool_readings();
        let gain = latest.unwrap_or_else(threaded::pool_gain);
        let when = if readings > 1 {
            format!(
                " (the latest of {readings} readings in this run: it is re-measured after {} s, \
                 then at doubling intervals)",
                threaded::RECHECK_FIRST.as_secs()
            )
        } else {
            String::new()
        };
        let verdict = if threaded::gain_pays(gain) {
            "bands from 3 M multiply-adds go to the pool"
        } else {
            "the pool only takes bands of 6 M multiply-adds or more, and products of 16 M or \
             more go to scoped threads"
        };
        lines.push((
            "pool".into(),
            format!("two threads {gain:.2}× one on a 96×768×96 probe{when}; {verdict}"),
        ));
    }
    let avx2 = peak
        .avx2_per_core
        .map_or(String::new(), |g| format!(" (avx2+fma: {g:.1})"));
    lines.push((
        "fma peak".into(),
        format!(
            "{:.1} GFLOP/s f32 per core ({} probe, the better of a reading before the measurements and one after){avx2}; {:.1} GFLOP/s {precision} on {threads} thread(s); % peak is against the {}",
            peak.f32_per_core,
            peak.isa,
            peak.gflops(precision, threads),
            peak.isa
        ),
    ));
    lines
}

/// `bench roofline`: the GEMM measurements of `bench gemm`, placed under the roofs.
fn roofline_report(args: GemmArgs) -> Result<()> {
    use crate::bench::stream;
    use crate::report::roofline::{self, Roof, Roofs};
    let Prepared { config, env, peak } = prepare(&args)?;
    let precision = args.precision.name();
    let elem = args.precision.bytes();
    let threads = config.threads;
    let points = measure(&args, &config)?;
    let peak = confirm_peak(peak, threads);
    // Roofs for one thread (the single-threaded rungs) and for all of them (`threaded`).
    let mut counts = vec![1];
    if threads > 1 {
        counts.push(threads);
    }
    let avx2_share = peak.avx2_per_core.map(|a| a / peak.f32_per_core);
    let roofs = Roofs {
        roofs: counts
            .into_iter()
            .map(|t| {
                let widest = peak.gflops(precision, t);
                let mut ceilings = Vec::new();
                if let Some(share) = avx2_share {
                    ceilings.push(("avx2+fma".to_string(), widest * share));
                }
                ceilings.push((peak.isa.to_string(), widest));
                Roof {
                    threads: t,
                    ceilings,
                    bandwidth: stream::triad(t, 5),
                }
            })
            .collect(),
    };
    let mut header = header_lines(&env, &peak, precision, threads);
    header.push((
        "bandwidth".into(),
        roofs
            .roofs
            .iter()
            .map(|r| format!("{:.1} GB/s on {} thread(s)", r.bandwidth, r.threads))
            .collect::<Vec<_>>()
            .join(", ")
            + " (STREAM triad, 3 × 64 MiB)",
    ));
    let table = roofline::table(&points, &roofs, elem);
    print_report(args.format, &header, &table, &table);
    if let Some(path) = &args.svg {
        let subtitle = format!(
            "{} · {} · {threads} thread(s) · {precision} · {} · {}",
            env.cpu, env.simd, env.rustc, env.date
        );
        let svg = roofline::chart(&points, &roofs, elem, "GEMM roofline", &subtitle)?;
        write_output(path, svg.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
