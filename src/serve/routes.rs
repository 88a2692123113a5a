//! The server's routes: the page and its assets, and the job API the page drives.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /`, `/playground.js`, `/playground.css` | the page, compiled into the binary |
//! | `POST /api/jobs` | start a job from the Playground's settings (JSON); answers its id, its points and the equivalent command |
//! | `GET /api/jobs/{id}/events` | the job's snapshots as Server-Sent Events |
//! | `POST /api/jobs/{id}/play`, `/pause`, `/step` | the switches |
//! | `POST /api/jobs/{id}/pace/{rate}` | at most `rate` epochs a second (≤ 30), or `max` |
//! | `DELETE /api/jobs/{id}` | stop and forget the job |
//! | `GET /api/jobs/{id}/model.safetensors`, `/picture.svg` | the trained model, the picture |
//! | `GET /runs`, `/draw` (and their scripts) | the Runs and Draw pages |
//! | `GET /api/runs…`, `/api/models…` | their APIs: [`super::runs`], [`super::draw`] |
//!
//! Every failure is a 4xx with a one-line `{"error": …}` the page shows. Nothing the page sends
//! is ever used as a path.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;

use super::draw::{self, Models};
use super::jobs::Jobs;
use super::runs::Runs;
use crate::data::playground::{Feature, PlaneSet};
use crate::error::{Error, Result};
use crate::job::MAX_PACE;
use crate::nn::spec::Activation;
use crate::optim::OptimizerConfig;
use crate::playground::{PlaygroundSettings, Regularization};

/// The largest request body accepted: a job's settings are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

const INDEX: &str = include_str!("page/index.html");
const RUNS_PAGE: &str = include_str!("page/runs.html");
const RUNS_SCRIPT: &str = include_str!("page/runs.js");
const DRAW_PAGE: &str = include_str!("page/draw.html");
const DRAW_SCRIPT: &str = include_str!("page/draw.js");
const CHARTS_SCRIPT: &str = include_str!("page/charts.js");
const SCRIPT: &str = include_str!("page/playground.js");
const STYLE: &str = include_str!("page/playground.css");

/// What the routes share: the Playground's jobs, the runs folder, the Draw page's models.
#[derive(Clone)]
pub struct App {
    /// The Playground's training jobs.
    pub jobs: Arc<Jobs>,
    /// The `--runs` folder and the ids given out.
    pub runs: Arc<Runs>,
    /// The Draw page's models.
    pub models: Arc<Models>,
}

impl FromRef<App> for Arc<Jobs> {
    fn from_ref(app: &App) -> Self {
        Arc::clone(&app.jobs)
    }
}

impl FromRef<App> for Arc<Runs> {
    fn from_ref(app: &App) -> Self {
        Arc::clone(&app.runs)
    }
}

impl FromRef<App> for Arc<Models> {
    fn from_ref(app: &App) -> Self {
        Arc::clone(&app.models)
    }
}

/// The routes, sharing `app`.
pub fn router(app: App) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/runs",
            get(|| async { page(RUNS_PAGE, "text/html; charset=utf-8") }),
        )
        .route(
            "/runs.js",
            get(|| async { page(RUNS_SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/draw",
            get(|| async { page(DRAW_PAGE, "text/html; charset=utf-8") }),
        )
        .route(
            "/draw.js",
            get(|| async { page(DRAW_SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/charts.js",
            get(|| async { page(CHARTS_SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route("/api/runs", get(runs_list))
        .route("/api/runs/{id}", get(run_curves))
        .route("/api/models", get(models_list))
        .route("/api/models/{id}", get(model_info))
        .route(
            "/api/models/{id}/predict",
            post(model_predict).layer(DefaultBodyLimit::max(draw::MAX_PICTURE_BYTES)),
        )
        .route(
            "/api/models/{id}/misclassified/{page}",
            get(model_misclassified),
        )
        .route(
            "/playground.js",
            get(|| async { page(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/playground.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/api/jobs", post(start))
        .route("/api/jobs/{id}", axum::routing::delete(stop))
        .route("/api/jobs/{id}/events", get(events))
        .route("/api/jobs/{id}/{action}", post(control))
        .route("/api/jobs/{id}/pace/{rate}", post(pace))
        .route("/api/jobs/{id}/model.safetensors", get(model))
        .route("/api/jobs/{id}/picture.svg", get(picture))
        .fallback(|| async { failure(StatusCode::NOT_FOUND, "no such page or API route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Runs `work` off the server's thread (it reads files or runs a model) and answers its
/// value, a 404 for `None` (an id not given out) or a 400 with the error.
async fn blocking(
    what: &'static str,
    work: impl FnOnce() -> Result<Option<serde_json::Value>> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(Some(v))) => axum::Json(v).into_response(),
        Ok(Ok(None)) => failure(
            StatusCode::NOT_FOUND,
            &format!("no such {what}: it is not (or no longer) in the folder; reload the list"),
        ),
        Ok(Err(e)) => bad(e),
        Err(_) => failure(StatusCode::INTERNAL_SERVER_ERROR, "the work failed"),
    }
}

async fn runs_list(State(runs): State<Arc<Runs>>) -> Response {
    blocking("run", move || Ok(Some(runs.list()))).await
}

async fn run_curves(State(runs): State<Arc<Runs>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<usize>() else {
        return failure(
            StatusCode::NOT_FOUND,
            "a run's id is a number from /api/runs",
        );
    };
    blocking("run", move || Ok(runs.curves(id))).await
}

async fn models_list(State(models): State<Arc<Models>>) -> Response {
    blocking("model", move || Ok(Some(models.list()))).await
}

async fn model_info(State(models): State<Arc<Models>>, Path(id): Path<String>) -> Response {
    blocking("model", move || models.info(&id)).await
}

async fn model_predict(
    State(models): State<Arc<Models>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    blocking("model", move || models.predict(&id, &body)).await
}

async fn model_misclassified(
    State(models): State<Arc<Models>>,
    Path((id, page)): Path<(String, String)>,
) -> Response {
    let Ok(page) = page.parse::<usize>() else {
        return failure(StatusCode::NOT_FOUND, "a page is a number: 0, 1, …");
    };
    blocking("model", move || models.misclassified(&id, page)).await
}

fn page(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// A 4xx (or 5xx) with the one line the page shows.
fn failure(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn bad(e: Error) -> Response {
    failure(StatusCode::BAD_REQUEST, &e.to_string())
}

fn no_job(id: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        &format!("no training job {id}: it ended or never existed; press reset to start one"),
    )
}

/// A job id from the path: digits only.
fn job_id(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// The Playground's state as the page sends it: the keys of its URL hash, plus our optimizer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PageSettings {
    /// The classification set: `circle`, `xor`, `gauss` or `spiral`.
    pub dataset: String,
    /// The regression set: `reg-plane` or `reg-gauss`.
    pub reg_dataset: String,
    /// `classification` or `regression`.
    pub problem: String,
    /// Neurons per hidden layer.
    pub network_shape: Vec<usize>,
    /// The learning rate.
    pub learning_rate: f64,
    /// `relu`, `tanh`, `sigmoid` or `linear`.
    pub activation: String,
    /// Points per mini-batch.
    pub batch_size: usize,
    /// Percent, 0 … 50, as the Playground's slider.
    pub noise: f64,
    /// Percent of the points used for training.
    pub perc_train_data: usize,
    /// Feed x₁.
    pub x: bool,
    /// Feed x₂.
    pub y: bool,
    /// Feed x₁².
    pub x_squared: bool,
    /// Feed x₂².
    pub y_squared: bool,
    /// Feed x₁x₂.
    pub x_times_y: bool,
    /// Feed sin x₁.
    pub sin_x: bool,
    /// Feed sin x₂.
    pub sin_y: bool,
    /// `none`, `L1` or `L2`.
    pub regularization: String,
    /// λ of the regularization.
    pub regularization_rate: f64,
    /// The Playground's seeds are strings such as `0.55534`.
    pub seed: String,
    /// Our optimizer menu: `sgd` (the Playground's) … `adam`.
    #[serde(default = "sgd")]
    pub optimizer: String,
    /// Start training at once (the link's `play=true`).
    #[serde(default)]
    pub play: bool,
    /// Epochs a second at most, so the boundary can be watched forming (our `speed` key);
    /// absent: as fast as it trains.
    #[serde(default)]
    pub speed: Option<f64>,
}

fn sgd() -> String {
    "sgd".into()
}

/// Points per set, as the Playground has them.
pub const CLASSIFY_POINTS: usize = 500;
/// Points of a regression set, as the Playground has them.
pub const REGRESS_POINTS: usize = 1200;

/// The seed a Playground seed string stands for: an integer as itself, anything else by its
/// FNV-1a hash, so every link's seed gives the same run every time.
pub fn seed_of(s: &str) -> u64 {
    if let Ok(n) = s.parse::<u64>() {
        return n;
    }
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl PageSettings {
    /// The run these settings describe, checked as the command line checks its flags and
    /// within what the page draws.
    pub fn settings(&self) -> Result<PlaygroundSettings> {
        let set = match self.problem.as_str() {
            "classification" => match PlaneSet::from_name(&self.dataset)? {
                s @ PlaneSet::Classify(_) => s,
                _ => {
                    return Err(Error::Config(format!(
                        "'{}' is a regression set: choose circle, xor, gauss or spiral",
                        self.dataset
                    )));
                }
            },
            "regression" => match self.reg_dataset.as_str() {
                "reg-plane" => PlaneSet::Plane,
                "reg-gauss" => PlaneSet::MultiGauss,
                other => {
                    return Err(Error::Config(format!(
                        "unknown regression set '{other}': choose reg-plane or reg-gauss"
                    )));
                }
            },
            other => {
                return Err(Error::Config(format!(
                    "unknown problem '{other}': choose classification or regression"
                )));
            }
        };
        if !(self.noise.is_finite() && (0.0..=50.0).contains(&self.noise)) {
            return Err(Error::Config(format!(
                "noise is 0 to 50 percent, not {}",
                self.noise
            )));
        }
        let activation = match self.activation.as_str() {
            "linear" => None,
            "relu" => Some(Activation::Relu),
            "tanh" => Some(Activation::Tanh),
            "sigmoid" => Some(Activation::Sigmoid),
            other => {
                return Err(Error::Config(format!(
                    "unknown activation '{other}': choose relu, tanh, sigmoid or linear"
                )));
            }
        };
        let features: Vec<Feature> = [
            (self.x, Feature::X1),
            (self.y, Feature::X2),
            (self.x_squared, Feature::X1Squared),
            (self.y_squared, Feature::X2Squared),
            (self.x_times_y, Feature::X1X2),
            (self.sin_x, Feature::SinX1),
            (self.sin_y, Feature::SinX2),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
        let settings = PlaygroundSettings {
            set,
            points: if set.is_regression() {
                REGRESS_POINTS
            } else {
                CLASSIFY_POINTS
            },
            train_percent: self.perc_train_data,
            // The Playground's noise slider, 0 … 50 %, as σ 0 … 1 on our [-4, 4]² square.
            noise: self.noise / 50.0,
            features,
            hidden: self.network_shape.clone(),
            activation,
            optimizer: OptimizerConfig::from_name(&self.optimizer, Some(self.learning_rate))?,
            batch: self.batch_size,
            regularization: Regularization::from_name(
                &self.regularization,
                self.regularization_rate,
            )?,
            seed: seed_of(&self.seed),
        };
        settings.validate_for_page()?;
        Ok(settings)
    }
}

/// `POST /api/jobs`.
async fn start(State(jobs): State<Arc<Jobs>>, body: Bytes) -> Response {
    let page: PageSettings = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return bad(Error::Config(format!(
                "the job's settings are not valid JSON of the Playground's keys: {e}"
            )));
        }
    };
    let settings = match page.settings() {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if let Some(speed) = page.speed
        && !(speed > 0.0 && speed <= MAX_PACE)
    {
        return bad(Error::Config(format!(
            "speed must be in (0, {MAX_PACE}] epochs a second, got {speed}; leave it out for full speed"
        )));
    }
    // Building the run generates its data: a few milliseconds, off the server's thread.
    let started = tokio::task::spawn_blocking({
        let jobs = Arc::clone(&jobs);
        let settings = settings.clone();
        move || jobs.start(&settings, page.play, page.speed)
    })
    .await;
    let (id, run) = match started {
        Ok(Ok(started)) => started,
        Ok(Err(e @ Error::Config(_))) if e.to_string().contains("running already") => {
            return failure(StatusCode::TOO_MANY_REQUESTS, &e.to_string());
        }
        Ok(Err(e)) => return bad(e),
        Err(_) => return failure(StatusCode::INTERNAL_SERVER_ERROR, "the job did not start"),
    };
    let points = {
        let run = run.lock();
        let d = &run.data;
        let list = |x: &crate::matrix::Matrix<f32>, y: &[f32]| -> Vec<[f32; 3]> {
            (0..x.rows())
                .map(|i| [x.get(i, 0), x.get(i, 1), y[i]])
                .collect()
        };
        json!({ "train": list(&d.x_train, &d.y_train), "test": list(&d.x_test, &d.y_test) })
    };
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": id,
            "command": settings.command(),
            "regression": settings.set.is_regression(),
            "points": points,
        })),
    )
        .into_response()
}

/// `GET /api/jobs/{id}/events`: every new snapshot, as fast as they come (the job sends at
/// most ~30 a second) and never one twice.
async fn events(State(jobs): State<Arc<Jobs>>, Path(id): Path<String>) -> Response {
    let Some(entry) = job_id(&id).and_then(|i| jobs.get(i)) else {
        return no_job(&id);
    };
    let mut rx = entry.events.clone();
    // The first event is whatever is there now (the start's snapshot at least).
    rx.mark_changed();
    let stream = stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let data = rx.borrow_and_update().clone();
        Some((
            Ok::<_, Infallible>(SseEvent::default().data(data.as_str())),
            rx,
        ))
    });
    sse(stream)
}

fn sse(
    stream: impl Stream<Item = std::result::Result<SseEvent, Infallible>> + Send + 'static,
) -> Response {
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
        .into_response()
}

/// `POST /api/jobs/{id}/{play|pause|step}`.
async fn control(
    State(jobs): State<Arc<Jobs>>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let Some(entry) = job_id(&id).and_then(|i| jobs.get(i)) else {
        return no_job(&id);
    };
    let c = entry.job.control();
    match action.as_str() {
        "play" => c.play(),
        "pause" => c.pause(),
        "step" => c.step(),
        _ => {
            return failure(
                StatusCode::NOT_FOUND,
                &format!("unknown action '{action}': play, pause or step"),
            );
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /api/jobs/{id}`.
/// `POST /api/jobs/{id}/pace/{rate}`: at most `rate` epochs a second, or `max` for full speed.
async fn pace(State(jobs): State<Arc<Jobs>>, Path((id, rate)): Path<(String, String)>) -> Response {
    let Some(entry) = job_id(&id).and_then(|i| jobs.get(i)) else {
        return no_job(&id);
    };
    let pace = match rate.as_str() {
        "max" => None,
        r => match r.parse::<f64>() {
            Ok(p) if p > 0.0 && p <= MAX_PACE => Some(p),
            _ => {
                return bad(Error::Config(format!(
                    "pace '{rate}': a number of epochs a second in (0, {MAX_PACE}], or max"
                )));
            }
        },
    };
    entry.job.control().set_pace(pace);
    StatusCode::NO_CONTENT.into_response()
}

async fn stop(State(jobs): State<Arc<Jobs>>, Path(id): Path<String>) -> Response {
    match job_id(&id) {
        Some(i) if jobs.remove(i) => StatusCode::NO_CONTENT.into_response(),
        _ => no_job(&id),
    }
}

/// `GET /api/jobs/{id}/model.safetensors`.
async fn model(State(jobs): State<Arc<Jobs>>, Path(id): Path<String>) -> Response {
    let Some(entry) = job_id(&id).and_then(|i| jobs.get(i)) else {
        return no_job(&id);
    };
    let bytes = tokio::task::spawn_blocking(move || entry.run.lock().model_bytes()).await;
    match bytes {
        Ok(Ok(b)) => download(b, "application/octet-stream", "playground.safetensors"),
        Ok(Err(e)) => bad(e),
        Err(_) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model was not encoded",
        ),
    }
}

/// `GET /api/jobs/{id}/picture.svg`.
async fn picture(State(jobs): State<Arc<Jobs>>, Path(id): Path<String>) -> Response {
    let Some(entry) = job_id(&id).and_then(|i| jobs.get(i)) else {
        return no_job(&id);
    };
    let svg = tokio::task::spawn_blocking(move || -> Result<String> {
        let mut run = entry.run.lock();
        let snap = run.snapshot()?;
        let title = crate::report::playground::title(&run);
        let sub = format!(
            "epoch {} · test loss {:.4} · {}",
            snap.epoch,
            snap.loss_test,
            run.settings().command()
        );
        crate::report::playground::picture(&mut run, &snap, &title, &sub)
    })
    .await;
    match svg {
        Ok(Ok(s)) => download(s.into_bytes(), "image/svg+xml", "playground.svg"),
        Ok(Err(e)) => bad(e),
        Err(_) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the picture was not drawn",
        ),
    }
}

fn download(bytes: Vec<u8>, kind: &'static str, name: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .expect("an ASCII file name"),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetName;

    fn page() -> PageSettings {
        serde_json::from_str(
            r#"{"dataset":"circle","regDataset":"reg-plane","problem":"classification",
                "networkShape":[4,2],"learningRate":0.03,"activation":"tanh","batchSize":10,
                "noise":0,"percTrainData":50,"x":true,"y":true,"xSquared":false,
                "ySquared":false,"xTimesY":false,"sinX":false,"sinY":false,
                "regularization":"none","regularizationRate":0,"seed":"0.55534"}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_playgrounds_opening_state_is_our_default_run() {
        let s = page().settings().unwrap();
        let d = PlaygroundSettings::default();
        assert_eq!(
            PlaygroundSettings {
                seed: d.seed,
                ..s.clone()
            },
            d
        );
        assert_eq!(s.seed, seed_of("0.55534"));
        assert_eq!(seed_of("17"), 17);
        assert_ne!(seed_of("0.1"), seed_of("0.2"));
    }

    #[test]
    fn page_settings_are_checked_with_the_reason() {
        type Edit = fn(&mut PageSettings);
        let cases: [(Edit, &str); 7] = [
            (|p| p.network_shape = vec![4, 9], "at most 8 neurons"),
            (|p| p.network_shape = vec![1; 7], "at most 6 hidden layers"),
            (|p| p.learning_rate = -1.0, "learning rate"),
            (
                |p| p.problem = "ranking".into(),
                "classification or regression",
            ),
            (|p| p.noise = 80.0, "0 to 50 percent"),
            (
                |p| p.dataset = "mnist".into(),
                "unknown playground data set",
            ),
            (
                |p| {
                    p.x = false;
                    p.y = false
                },
                "input feature",
            ),
        ];
        for (edit, needle) in cases {
            let mut p = page();
            edit(&mut p);
            let err = p.settings().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
        let mut p = page();
        p.problem = "regression".into();
        assert_eq!(p.settings().unwrap().set, PlaneSet::Plane);
        assert_eq!(p.settings().unwrap().points, REGRESS_POINTS);
        assert_eq!(
            page().settings().unwrap().set,
            PlaneSet::Classify(DatasetName::Circle)
        );
    }
}
